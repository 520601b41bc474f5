/**
 * `ramdisk-agent plugin new NAME [--dir DIR] [--agent SPEC]`: writes a hardware-manager plugin
 * package a vendor can build, test and install at once: TypeScript compiled with tsc, one
 * firmware-update clean step, tests written with `ramdisk-agent/testing` run by `node --test`,
 * the `ramdisk-agent-plugin` keyword so an npm-installed copy is found, and the agent as a
 * devDependency only (at run time the plugin gets the agent's own contract).
 */
import { existsSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CONTRACT_VERSION } from '../hardware/manager.js';
import { AGENT_VERSION } from '../version.js';

export const PLUGIN_NEW_USAGE = `Usage: ramdisk-agent plugin new NAME [--dir DIR] [--agent SPEC]

Writes a hardware-manager plugin package in DIR (default ./NAME).
  NAME           npm package name, e.g. acme-hardware-manager; the manager and its step
                 are named after it in snake_case (acme_hardware_manager), with a vendor_
                 prefix when it starts with a digit (3par-hw: vendor_3par_hw)
  --agent SPEC   how the package depends on ramdisk-agent (default ^${AGENT_VERSION});
                 e.g. file:../ramdisk-agent-${AGENT_VERSION}.tgz from \`npm run pack\`
`;

export class PluginUsageError extends Error {}

export interface PluginNewOptions {
  name: string;
  dir: string;
  agentSpec: string;
}

/** The options, or 'help' when --help / -h is anywhere in them (nothing is written then). */
export function parsePluginArgs(argv: string[]): PluginNewOptions | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const [sub, name, ...rest] = argv;
  if (sub !== 'new' || !name || name.startsWith('-')) throw new PluginUsageError(PLUGIN_NEW_USAGE);
  // npm's rules for a new package (validate-npm-package-name): URL-safe lower case, no leading
  // dot or underscore, at most 214 characters, not a Node core module's name.
  if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(name)) {
    throw new PluginUsageError(`"${name}" is not a valid npm package name (lower case, digits, - . _ ~)`);
  }
  if (name.length > 214) throw new PluginUsageError(`"${name}" is not a valid npm package name (214 characters at most)`);
  if (isBuiltin(name)) throw new PluginUsageError(`"${name}" is a Node core module's name; npm refuses it as a package name`);
  const options: PluginNewOptions = { name, dir: resolve(name.replace(/^@.*\//, '')), agentSpec: `^${AGENT_VERSION}` };
  for (let i = 0; i < rest.length; i += 2) {
    const value = rest[i + 1];
    if (value === undefined) throw new PluginUsageError(`${rest[i]} needs a value\n\n${PLUGIN_NEW_USAGE}`);
    if (rest[i] === '--dir') options.dir = resolve(value);
    else if (rest[i] === '--agent') options.agentSpec = value;
    else throw new PluginUsageError(`unknown option ${rest[i]}\n\n${PLUGIN_NEW_USAGE}`);
  }
  return options;
}

/**
 * The manager's wire name, which also starts its step names: `acme-hardware-manager` →
 * `acme_hardware_manager`. npm allows a package name to start with a digit (`3par-hw`) and
 * defineStep does not (a step name is snake_case from a letter, as Ironic's are), so such a
 * name gets a `vendor_` prefix: `vendor_3par_hw`, whose steps load.
 */
function managerIdentifier(packageName: string): string {
  const words = packageName
    .replace(/^@.*\//, '')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[a-z]/.test(words) ? words : words ? `vendor_${words}` : 'vendor';
}

export async function writePluginPackage(options: PluginNewOptions): Promise<string[]> {
  if (existsSync(join(options.dir, 'package.json'))) {
    throw new PluginUsageError(`${options.dir} already holds a package.json; choose another --dir`);
  }
  const manager = managerIdentifier(options.name);
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(
      {
        name: options.name,
        version: '0.1.0',
        type: 'module',
        keywords: ['ramdisk-agent-plugin'],
        main: 'dist/index.js',
        // Every compiled module (a plugin split into src/firmware.ts, src/bios.ts... imports
        // them from dist/index.js), not the compiled tests: only dist/index.js was packed, so
        // a multi-file plugin installed fine and then could not load in the ramdisk.
        files: ['dist/', '!dist/test/'],
        scripts: { build: 'tsc', test: 'tsc && node --test dist/test/' },
        devDependencies: { '@types/node': '^20.19.43', 'ramdisk-agent': options.agentSpec, typescript: '6.0.3' },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          types: ['node'],
          rootDir: 'src',
          outDir: 'dist',
          skipLibCheck: true,
        },
        include: ['src'],
      },
      null,
      2,
    )}\n`,
    'src/index.ts': `/**
 * ${options.name}: a hardware manager for ramdisk-agent. Built with \`npm run build\`, loaded by
 * \`ramdisk-agent agent --hardware-manager-path <this folder>\` or, once installed with npm,
 * found by its "ramdisk-agent-plugin" keyword.
 */
import { CleaningError, defineHardwareManager, defineStep, ExecError, HardwareSupport, z } from 'ramdisk-agent/hardware';

const updateFirmware = defineStep({
  name: '${manager}_update_firmware',
  description: 'Flash a firmware bundle with the vendor tool',
  // Manual cleaning only (priority 0), listed under the deploy interface: the one a conductor
  // routes to the agent for in-band clean steps.
  clean: { priority: 0, interface: 'deploy', abortable: false },
  args: z.object({
    url: z.string().url().describe('Where the firmware bundle is'),
    password: z.string().optional().describe('BMC password the tool needs, if any'),
  }),
  async run(ctx, { url, password }) {
    ctx.progress.update({ phase: 'flashing', url });
    const args = ['--flash', url, ...(password ? ['--password', password] : [])];
    // Replace \`echo\` with the vendor's flash tool. The value after --password is masked in
    // logs, errors and results; name any other secret in \`secrets\`.
    try {
      await ctx.exec('echo', args, { signal: ctx.signal });
    } catch (error) {
      if (ExecError.is(error)) throw new CleaningError(\`firmware update failed: \${error.stderr.trim() || error.message}\`);
      throw error;
    }
    ctx.progress.update({ phase: 'done' });
    return { flashed: url };
  },
});

export default defineHardwareManager({
  name: '${manager}',
  version: '1.0',
  // The ramdisk-agent/hardware contract this was written for: an agent with an incompatible
  // one refuses to load it rather than call it wrongly.
  contract: '^${CONTRACT_VERSION}',
  // A real vendor manager answers SERVICE_PROVIDER only on its own machines (read DMI).
  evaluateHardwareSupport: () => HardwareSupport.MAINLINE,
  steps: [updateFirmware],
});
`,
    'src/test/manager.test.ts': `import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createFakeStepContext, startAgentWithPlugins, type PluginAgent } from 'ramdisk-agent/testing';
import manager from '../index.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const step = manager.steps.find((s) => s.name === '${manager}_update_firmware')!;

describe('${manager}_update_firmware', () => {
  it('runs the vendor tool with the bundle URL and reports progress', async () => {
    const { ctx, execCalls, progress } = createFakeStepContext();
    const result = await step.run(ctx, { url: 'http://127.0.0.1/fw.bin' });
    assert.deepEqual(result, { flashed: 'http://127.0.0.1/fw.bin' });
    assert.deepEqual(execCalls[0]?.args, ['--flash', 'http://127.0.0.1/fw.bin']);
    assert.deepEqual(progress.at(-1), { phase: 'done' });
  });
});

describe('over HTTP, as a conductor drives it', () => {
  let agent: PluginAgent;
  before(async () => {
    agent = await startAgentWithPlugins({ pluginPaths: [PACKAGE_ROOT] });
  });
  after(() => agent.close());

  it('lists the step for manual cleaning and runs it', async () => {
    const { steps } = await agent.listSteps('clean');
    assert.equal(steps['${manager}']?.[0]?.step, '${manager}_update_firmware');
    const record = await agent.runStep('clean', '${manager}_update_firmware', { url: 'http://127.0.0.1/fw.bin' });
    assert.equal(record.command_status, 'SUCCEEDED', JSON.stringify(record.command_error));
    assert.deepEqual(record.command_result.clean_result, { flashed: 'http://127.0.0.1/fw.bin' });
  });
});
`,
    '.gitignore': 'node_modules/\ndist/\n',
  };
  const written: string[] = [];
  for (const [path, text] of Object.entries(files)) {
    const target = join(options.dir, path);
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(target, text);
    written.push(target);
  }
  return written;
}
