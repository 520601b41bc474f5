/**
 * The plugin contract, `ramdisk-agent/hardware`, is pinned: every exported name with its
 * declared shape (function signatures, class members, interface properties, constant types),
 * as the TypeScript checker sees them, is compared with contract-surface.api.txt. A change
 * to the contract fails here until someone decides what it means for CONTRACT_VERSION
 * (minor for additions, major for a change or removal a plugin could rely on), then records
 * the new surface with `npx vitest run test/hardware/contract-surface.test.ts -u`.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CONTRACT_VERSION } from '../../src/hardware/index.js';

const REPO = join(import.meta.dirname, '..', '..');
const ENTRY = join(REPO, 'src', 'hardware', 'index.ts');
const FLAGS =
  ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseFullyQualifiedType | ts.TypeFormatFlags.WriteArrayAsGenericType;

function program(): ts.Program {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(REPO, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error('tsconfig.json could not be read');
  return ts.createProgram([ENTRY], { ...parsed.options, noEmit: true });
}

/** Absolute paths inside the repository become relative, so the text is the same on every machine. */
const portable = (text: string) =>
  text
    .split(`${REPO}/`)
    .join('')
    .replace(/import\("([^"]+)"\)\./g, (_, p: string) => `import("${p}").`);

/**
 * Which members belong to the surface: for a class, those it declares itself (inherited ones
 * are listed under the exported base); otherwise those declared in this repository (not
 * Node's or TypeScript's lib, whose members change with @types/node).
 */
type MemberFilter = (declaration: ts.Declaration) => boolean;
const declaredHere: MemberFilter = (d) => !d.getSourceFile().fileName.includes('/node_modules/');
const declaredIn =
  (owners: readonly ts.Declaration[]): MemberFilter =>
  (d) =>
    owners.includes(d.parent as ts.Declaration);

function describeMembers(
  checker: ts.TypeChecker,
  type: ts.Type,
  at: ts.Node,
  indent: string,
  keep: MemberFilter = declaredHere,
): string[] {
  const lines: string[] = [];
  for (const signature of type.getConstructSignatures())
    lines.push(`${indent}new ${checker.signatureToString(signature, at, FLAGS)}`);
  for (const signature of type.getCallSignatures()) lines.push(`${indent}${checker.signatureToString(signature, at, FLAGS)}`);
  for (const property of checker.getPropertiesOfType(type)) {
    const name = property.getName();
    if (name.startsWith('__@') || name.startsWith('#') || name === 'prototype') continue;
    const declaration = property.valueDeclaration ?? property.declarations?.[0];
    if (!declaration || !keep(declaration)) continue;
    const modifiers = declaration ? ts.getCombinedModifierFlags(declaration as ts.Declaration) : ts.ModifierFlags.None;
    if (modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
    const optional = property.flags & ts.SymbolFlags.Optional ? '?' : '';
    const readonly = modifiers & ts.ModifierFlags.Readonly ? 'readonly ' : '';
    lines.push(
      `${indent}${readonly}${name}${optional}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(property, at), at, FLAGS)}`,
    );
  }
  for (const info of checker.getIndexInfosOfType(type)) {
    lines.push(`${indent}[key: ${checker.typeToString(info.keyType, at, FLAGS)}]: ${checker.typeToString(info.type, at, FLAGS)}`);
  }
  return lines;
}

function describeExport(checker: ts.TypeChecker, exported: ts.Symbol, at: ts.Node): string[] {
  const name = exported.getName();
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const lines: string[] = [];
  if (symbol.flags & ts.SymbolFlags.Class) {
    const staticType = checker.getTypeOfSymbolAtLocation(symbol, at);
    const instanceType = checker.getDeclaredTypeOfSymbol(symbol);
    const bases = instanceType.isClassOrInterface() ? checker.getBaseTypes(instanceType) : [];
    lines.push(
      `class ${name}${bases.length ? ` extends ${bases.map((b) => checker.typeToString(b, at, FLAGS)).join(', ')}` : ''}`,
    );
    const own = declaredIn(symbol.declarations ?? []);
    lines.push('  static:', ...describeMembers(checker, staticType, at, '    ', own));
    lines.push('  instance:', ...describeMembers(checker, instanceType, at, '    ', own));
    return lines;
  }
  if (symbol.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Variable)) {
    const type = checker.getTypeOfSymbolAtLocation(symbol, at);
    if (symbol.flags & ts.SymbolFlags.Function) {
      lines.push(`function ${name}`, ...describeMembers(checker, type, at, '  '));
    } else {
      lines.push(`const ${name}: ${checker.typeToString(type, at, FLAGS)}`);
    }
  }
  if (symbol.flags & ts.SymbolFlags.Interface) {
    lines.push(`interface ${name}`, ...describeMembers(checker, checker.getDeclaredTypeOfSymbol(symbol), at, '  '));
  } else if (symbol.flags & ts.SymbolFlags.TypeAlias) {
    const declared = checker.getDeclaredTypeOfSymbol(symbol);
    lines.push(`type ${name} = ${checker.typeToString(declared, at, FLAGS | ts.TypeFormatFlags.InTypeAlias)}`);
  }
  if (symbol.flags & ts.SymbolFlags.Namespace && lines.length === 0) lines.push(`namespace ${name}`);
  if (lines.length === 0) lines.push(`${name}: (symbol flags ${symbol.flags})`);
  return lines;
}

function contractSurface(): string {
  const built = program();
  const checker = built.getTypeChecker();
  const source = built.getSourceFile(ENTRY)!;
  const module = checker.getSymbolAtLocation(source)!;
  const exports = checker.getExportsOfModule(module).sort((a, b) => a.getName().localeCompare(b.getName()));
  const sections = exports
    // `z` is zod's namespace re-exported as it is: pinned by the zod version in package.json.
    .map((symbol) =>
      symbol.getName() === 'z' ? ["z: the agent's zod (package.json pins its version)"] : describeExport(checker, symbol, source),
    );
  return portable(
    [
      `ramdisk-agent/hardware, CONTRACT_VERSION ${CONTRACT_VERSION}: ${exports.length} exports`,
      ...sections.map((s) => s.join('\n')),
    ].join('\n\n') + '\n',
  );
}

describe('the plugin contract (ramdisk-agent/hardware)', () => {
  it('has the recorded surface; a change needs a CONTRACT_VERSION decision', async () => {
    const surface = contractSurface();
    await expect(
      surface,
      'ramdisk-agent/hardware changed: decide CONTRACT_VERSION (src/hardware/manager.ts) — minor for additions, major for changes or removals — then record the surface with -u',
    ).toMatchFileSnapshot('contract-surface.api.txt');
  }, 120_000);
});
