/**
 * The house rules of docs/ARCHITECTURE.md, read from the imports (type-only imports included:
 * a type import still couples two modules). `npm run lint` runs this.
 */

/** The parts of src/hardware that find, choose or write disks. src/agent reaches disks only
 * through the managers (dispatchStep, the registry's methods), never through these. */
const DISK_PARTS = [
  '^src/hardware/block-devices\\.ts$',
  '^src/hardware/disk-targets\\.ts$',
  '^src/hardware/root-device-hints\\.ts$',
  '^src/hardware/specs-matcher\\.ts$',
  // image writing blocks; the agent only validates image_info before a command starts
  '^src/hardware/image/(?!image-info\\.ts$)',
];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle makes modules impossible to read, test or load on their own.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'agent-never-touches-disks',
      severity: 'error',
      comment: 'src/agent knows nothing about disks: disks are found, chosen and written by hardware managers.',
      from: { path: '^src/agent/' },
      to: { path: DISK_PARTS },
    },
    {
      name: 'agent-never-imports-plugins',
      severity: 'error',
      comment: 'Hardware managers are plugins: the agent loads them at run time (src/hardware/loader.ts).',
      from: { path: '^src/' },
      to: { path: '^hardware-managers/' },
    },
    {
      name: 'hardware-never-serves-http',
      severity: 'error',
      comment: 'src/hardware is the hardware-manager framework; serving the API is src/agent/http.',
      from: { path: '^src/hardware/' },
      to: { path: ['^src/agent/', '^src/conductor/', '^src/cli', 'node_modules/(fastify|@fastify|light-my-request)/'] },
    },
    {
      name: 'plugins-import-only-the-contract',
      severity: 'error',
      comment:
        'A hardware manager imports only the public contract (src/hardware/index.ts), zod, node built-ins and its own files.',
      from: { path: '^hardware-managers/([^/]+)/' },
      to: {
        path: ['^src/', '^hardware-managers/'],
        pathNot: ['^src/hardware/index\\.ts$', '^hardware-managers/$1/'],
      },
    },
    {
      name: 'conductor-never-imports-agent',
      severity: 'error',
      comment: 'The conductor talks to agents over HTTP only.',
      from: { path: '^src/conductor/' },
      to: { path: '^src/agent/' },
    },
    {
      name: 'tests-stay-out-of-the-product',
      severity: 'error',
      comment: 'Shipped code never imports test code.',
      from: { path: '^(src|hardware-managers)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.json'],
    },
  },
};
