// Plugin loading: the same code loads shipped and vendor managers, and refuses broken ones
// by name without taking the agent down.
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findInstalledPlugins, loadHardwareManagers } from '../../src/hardware/loader.js';
import { silentLogger } from '../../src/hardware/logger.js';
import { CONTRACT_VERSION } from '../../src/hardware/manager.js';
import { FIXTURE_MANAGERS } from '../helpers/agent.js';

const BROKEN = join(import.meta.dirname, '..', 'fixtures', 'broken-hardware-managers');

describe('loadHardwareManagers', () => {
  it('loads every sub-folder of a managers directory, in name order', async () => {
    const { plugins, problems } = await loadHardwareManagers([FIXTURE_MANAGERS], silentLogger);
    expect(problems).toEqual([]);
    expect(plugins.map((p) => p.manager.name)).toEqual(['fixture_generic', 'fixture_mainline', 'fixture_unsupported']);
    expect(plugins[0]!.source).toBe(join(FIXTURE_MANAGERS, 'fixture-generic', 'index.ts'));
  });

  it('accepts a directory that is itself one plugin', async () => {
    const { plugins } = await loadHardwareManagers([join(FIXTURE_MANAGERS, 'fixture-generic')], silentLogger);
    expect(plugins.map((p) => p.manager.name)).toEqual(['fixture_generic']);
  });

  it('reports each broken plugin with the reason and keeps the good ones', async () => {
    const { plugins, problems } = await loadHardwareManagers([FIXTURE_MANAGERS, BROKEN], silentLogger);
    expect(plugins.map((p) => p.manager.name)).toEqual(['fixture_generic', 'fixture_mainline', 'fixture_unsupported']);
    const bySource = Object.fromEntries(problems.map((p) => [p.source.split('/').at(-1), p.message]));
    expect(bySource['bad-export']).toMatch(/does not export a hardware manager made by defineHardwareManager\(\)/);
    expect(bySource['contract-mismatch']).toBe(
      `manager "from_the_future" needs contract ^3.0.0, this agent provides ${CONTRACT_VERSION}`,
    );
    expect(bySource['duplicate-name']).toMatch(
      /a hardware manager named "fixture_generic" was already loaded from .*fixture-generic/,
    );
    // Both definitions named by file and line, so the author finds them.
    expect(bySource['duplicate-step']).toMatch(
      /^Hardware manager "duplicate_steps" declares step "acme_flash" twice \(\/.*duplicate-step\/index\.ts:4:\d+ and \/.*duplicate-step\/index\.ts:5:\d+\)$/,
    );
    expect(bySource['no-entry']).toMatch(/no entry point/);
    expect(bySource['throws-on-import']).toMatch(/vendor SDK not found/);
  });

  it('in a node_modules folder, only the packages marked as plugins are loaded: their dependencies are not imported', async () => {
    const root = mkdtempSync(join(tmpdir(), 'plugin-node-modules-'));
    try {
      // What `npm install --prefix DIR acme-hw.tgz` leaves: the plugin and its dependencies.
      const modules = join(root, 'node_modules');
      const write = (name: string, pkg: object, index: string) => {
        mkdirSync(join(modules, name), { recursive: true });
        writeFileSync(join(modules, name, 'package.json'), JSON.stringify({ name, main: 'index.mjs', ...pkg }));
        writeFileSync(join(modules, name, 'index.mjs'), index);
      };
      // Packages under node_modules are not transformed by the test runner, so the plugin is
      // plain JavaScript shaped as a plugin that bundled its own copy of the contract.
      write(
        'acme-hw',
        { keywords: ['ramdisk-agent-plugin'], dependencies: { 'acme-sdk': '1.0.0' } },
        `export default { [Symbol.for('ramdisk-agent.HardwareManager')]: true, name: 'acme_hw', version: '1.0', ` +
          `contract: '^${CONTRACT_VERSION}', steps: [], methods: {}, evaluateHardwareSupport: () => 3 };\n`,
      );
      // A dependency whose import has an effect: importing it as a plugin would run it.
      const marker = join(root, 'acme-sdk-was-imported');
      write('acme-sdk', {}, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'yes');\n`);
      write('@acme/bmc-client', {}, 'export const connect = () => {};\n');
      const { plugins, problems } = await loadHardwareManagers([modules], silentLogger);
      expect(plugins.map((p) => p.manager.name)).toEqual(['acme_hw']);
      expect(problems).toEqual([]);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a plugin folder reached twice (its own path and the folder of plugins, a symlink) is loaded once, no problem', async () => {
    // As when an operator lists a plugin that npm discovery finds too.
    const root = mkdtempSync(join(tmpdir(), 'plugin-twice-'));
    try {
      symlinkSync(join(FIXTURE_MANAGERS, 'fixture-mainline'), join(root, 'linked-mainline'));
      const { plugins, problems } = await loadHardwareManagers(
        [FIXTURE_MANAGERS, join(FIXTURE_MANAGERS, 'fixture-generic'), join(root, 'linked-mainline')],
        silentLogger,
      );
      expect(problems).toEqual([]);
      expect(plugins.map((p) => p.manager.name)).toEqual(['fixture_generic', 'fixture_mainline', 'fixture_unsupported']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('warns about a plugin that lists ramdisk-agent in dependencies (a second agent installed), and loads it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'plugin-host-dependency-'));
    try {
      const plugin = join(root, 'acme');
      mkdirSync(plugin);
      writeFileSync(join(plugin, 'package.json'), JSON.stringify({ name: 'acme', dependencies: { 'ramdisk-agent': '^0.1.0' } }));
      writeFileSync(
        join(plugin, 'index.mjs'),
        `export default { [Symbol.for('ramdisk-agent.HardwareManager')]: true, name: 'acme_dep', version: '1.0', ` +
          `contract: '^${CONTRACT_VERSION}', steps: [], methods: {}, evaluateHardwareSupport: () => 3 };\n`,
      );
      const warnings: string[] = [];
      const log = { ...silentLogger, warn: (_fields: object | string, msg?: string) => void warnings.push(msg ?? '') };
      const { plugins, problems } = await loadHardwareManagers([plugin], log);
      expect(problems).toEqual([]);
      expect(plugins.map((p) => p.manager.name)).toEqual(['acme_dep']);
      expect(warnings).toEqual([
        `${plugin}: package.json lists "ramdisk-agent" in dependencies, so npm installs a second copy of the agent with the plugin; the plugin is given the running agent's contract anyway: make it a devDependency`,
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a missing directory is a problem, not a crash', async () => {
    const { plugins, problems } = await loadHardwareManagers(['/nonexistent/managers'], silentLogger);
    expect(plugins).toEqual([]);
    expect(problems[0]!.message).toMatch(/cannot read hardware manager directory/);
  });
});

describe('findInstalledPlugins', () => {
  it('finds the packages marked with the keyword, in folder order, among many unmarked ones', async () => {
    const root = mkdtempSync(join(tmpdir(), 'installed-plugins-'));
    try {
      const modules = join(root, 'node_modules');
      const write = (name: string, pkg: string | object) => {
        mkdirSync(join(modules, name), { recursive: true });
        writeFileSync(join(modules, name, 'package.json'), typeof pkg === 'string' ? pkg : JSON.stringify(pkg));
      };
      for (let i = 0; i < 40; i++) write(`dep-${String(i).padStart(2, '0')}`, { name: `dep-${i}`, keywords: ['util'] });
      write('acme-plugin', { name: 'acme-plugin', keywords: ['ramdisk-agent-plugin'] });
      write('@vendor/raid-plugin', { name: '@vendor/raid-plugin', keywords: ['bmc', 'ramdisk-agent-plugin'] });
      write('dep-20-mentions', { name: 'x', description: 'not a ramdisk-agent-plugin itself', keywords: [] });
      write('dep-30-broken', '{ "keywords": ["ramdisk-agent-plugin"');
      mkdirSync(join(modules, 'no-package-json'));
      const found = await findInstalledPlugins([modules, join(root, 'missing', 'node_modules')]);
      expect(found).toEqual([join(modules, '@vendor', 'raid-plugin'), join(modules, 'acme-plugin')]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
