// Type-aware lint rules the compiler does not enforce, kept to what loses behaviour on purpose:
// an agent that forgets a promise loses a step's failure (an unhandled rejection instead of
// a FAILED command), an async callback where a sync one is expected runs unobserved, and
// dead code misleads the next reader.
// Style is prettier's job; import layering is dependency-cruiser's (.dependency-cruiser.cjs).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Dead code inside a module (knip finds it across modules). `_name` marks a deliberately
      // unused binding; parameters are part of a signature and stay.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_' },
      ],
    },
  },
);
