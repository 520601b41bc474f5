/**
 * The agent settings in the `config` of Ironic's lookup answer (a fake Ironic API on
 * 127.0.0.1), applied as IPA's process_lookup_data applies them: agent_md5_checksum_enable,
 * disable_deep_image_inspection and permitted_image_formats replace the agent's own (config
 * file, kernel command line) whenever sent, false and [] included; enable_bios_bootloader_install
 * only ever turns grub-install on. A value of the wrong type is named in a warning and the agent
 * keeps its own, where it used to fail the lookup until the agent gave up. What a step gets is
 * `hardwareSettingsOf(config)`, the view every command's step context is made with.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { mergeConfig, type ConfigSources } from '../../src/agent/config/load.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { hardwareSettingsOf, type HardwareSettings } from '../../src/hardware/settings.js';
import { FIXTURE_MANAGERS } from '../helpers/agent.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

let macs: string[] = [];
let conductor: FakeConductor | undefined;
let agent: RunningAgent | undefined;

beforeAll(async () => {
  macs = (await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address);
});

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  await conductor?.close();
  conductor = undefined;
});

interface LinkedAgent {
  settings: () => HardwareSettings;
  warnings: { msg: string; setting?: string }[];
}

/** An agent configured by `local`, looked up at a fake Ironic whose lookup `config` has `sent`. */
async function lookedUp(local: Pick<ConfigSources, 'file' | 'kernel'>, sent: Record<string, unknown>): Promise<LinkedAgent> {
  expect(macs.length, 'this machine needs a NIC with a MAC for lookup').toBeGreaterThan(0);
  conductor = await FakeConductor.start();
  conductor.lookupConfigExtra = sent;
  conductor.addNode(macs);
  const heartbeat = conductor.nextHeartbeat();
  const warnings: LinkedAgent['warnings'] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { level: number; msg: string; setting?: string };
        if (entry.level === 40) warnings.push({ msg: entry.msg, ...(entry.setting ? { setting: entry.setting } : {}) });
      }
      done();
    },
  });
  const config = mergeConfig({
    ...local,
    flags: {
      apiUrls: [conductor.url],
      listenHost: '127.0.0.1',
      listenPort: 0,
      lookupInterval: 0.05,
      lookupTimeout: 5,
      enableAutoTls: false,
      loadShippedManagers: false,
      hardwareManagerPaths: [FIXTURE_MANAGERS],
      discoverInstalledPlugins: false,
    },
  });
  agent = await startAgent({ config, logger: { level: 'warn', stream } as never });
  expect((await heartbeat).status).toBe(202);
  const { services } = agent;
  return { settings: () => hardwareSettingsOf(services.config), warnings };
}

describe("the lookup's config sets the agent's settings as IPA", () => {
  it('the conductor replaces md5, deep inspection and the permitted formats, false and an empty list included', async () => {
    const { settings } = await lookedUp(
      { file: { md5Enabled: true, disableDeepImageInspection: true, permittedImageFormats: ['raw', 'gpt', 'qcow2', 'vmdk'] } },
      { agent_md5_checksum_enable: false, disable_deep_image_inspection: false, permitted_image_formats: [] },
    );
    expect(settings()).toMatchObject({ md5Enabled: false, disableDeepImageInspection: false, permittedImageFormats: [] });
  });

  it('the conductor narrows the permitted formats and disables deep inspection', async () => {
    const { settings } = await lookedUp(
      {},
      { permitted_image_formats: ['raw'], disable_deep_image_inspection: true, agent_md5_checksum_enable: true },
    );
    expect(settings()).toMatchObject({ md5Enabled: true, disableDeepImageInspection: true, permittedImageFormats: ['raw'] });
  });

  it.for<[string, boolean, boolean, boolean]>([
    ['the conductor enables it', false, true, true],
    ['the conductor says false: the agent that enables it itself keeps it', true, false, true],
    ['neither enables it', false, false, false],
  ])('enable_bios_bootloader_install only turns grub on: %s', async ([, local, sent, expected]) => {
    const { settings } = await lookedUp(
      { kernel: { enableBiosBootloaderInstall: local } },
      { enable_bios_bootloader_install: sent },
    );
    expect(settings().enableBiosBootloaderInstall).toBe(expected);
  });

  it('a value of the wrong type is named in a warning and the agent keeps its own; the lookup still succeeds', async () => {
    const { settings, warnings } = await lookedUp(
      { file: { permittedImageFormats: ['raw', 'qcow2'] } },
      {
        agent_md5_checksum_enable: 0,
        disable_deep_image_inspection: 'yes',
        permitted_image_formats: 'raw',
        enable_bios_bootloader_install: 'true',
      },
    );
    expect(settings()).toMatchObject({
      md5Enabled: true,
      disableDeepImageInspection: false,
      permittedImageFormats: ['raw', 'qcow2'],
      enableBiosBootloaderInstall: false,
    });
    const named = warnings.filter((w) => w.msg.startsWith('ignoring ')).map((w) => w.setting);
    expect(named.sort()).toEqual([
      'agent_md5_checksum_enable',
      'disable_deep_image_inspection',
      'enable_bios_bootloader_install',
      'permitted_image_formats',
    ]);
    expect(warnings.find((w) => w.setting === 'permitted_image_formats')?.msg).toBe(
      'ignoring permitted_image_formats from the conductor\'s lookup: "raw" is not a valid value; the agent keeps its own',
    );
  });
});
