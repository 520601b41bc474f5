// Manager ordering, dispatch, step de-duplication and the version check (reference §4.2,
// §6), with the fixture managers under test/fixtures/hardware-managers.
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DeviceGuard } from '../../src/hardware/device-guard.js';
import { run } from '../../src/hardware/exec.js';
import {
  defineHardwareManager,
  defineStep,
  HardwareSupport,
  IncompatibleHardwareMethodError,
  isIpaError,
  type BlockDevice,
} from '../../src/hardware/index.js';
import { loadHardwareManagers } from '../../src/hardware/loader.js';
import { silentLogger } from '../../src/hardware/logger.js';
import { ManagerRegistry } from '../../src/hardware/registry.js';
import type { StepContext } from '../../src/hardware/step-context.js';
import { FIXTURE_MANAGERS } from '../helpers/agent.js';

const managerContext = { log: silentLogger, exec: run, guard: new DeviceGuard({ allowList: [] }) };
let registry: ManagerRegistry;

function stepContext(): StepContext {
  return {
    node: {},
    ports: [],
    phase: 'clean',
    log: silentLogger,
    progress: { update: () => {} },
    signal: new AbortController().signal,
    guard: managerContext.guard,
    exec: run,
    dispatch: (method, ...args) => registry.dispatchToManagers(method, ...args),
  };
}

async function rejection(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as any;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  const { plugins, problems } = await loadHardwareManagers([FIXTURE_MANAGERS], silentLogger);
  expect(problems).toEqual([]);
  registry = await ManagerRegistry.activate(plugins, managerContext);
});

describe('activation', () => {
  it('keeps only supported managers, highest support first', () => {
    expect(registry.managers.map((m) => [m.manager.name, m.support])).toEqual([
      ['fixture_mainline', HardwareSupport.MAINLINE],
      ['fixture_generic', HardwareSupport.GENERIC],
    ]);
  });

  it('reports versions keyed by manager name', () => {
    expect(registry.versions()).toEqual({ fixture_mainline: '2.0', fixture_generic: '1.5' });
  });

  it('ties keep load order and initialize runs in support order', async () => {
    const order: string[] = [];
    const make = (name: string, support: number) =>
      defineHardwareManager({
        name,
        version: '1',
        evaluateHardwareSupport: () => support,
        initialize: () => {
          order.push(name);
        },
      });
    const plugins = [make('b', 1), make('a', 1), make('top', 3)].map((manager) => ({ manager, source: 'test' }));
    const active = await ManagerRegistry.activate(plugins, managerContext);
    expect(active.managers.map((m) => m.manager.name)).toEqual(['top', 'b', 'a']);
    expect(order).toEqual(['top', 'b', 'a']);
  });

  it('no supported manager at all is HardwareManagerNotFound', async () => {
    const none = defineHardwareManager({ name: 'none', version: '1', evaluateHardwareSupport: () => 0 });
    const error = await rejection(ManagerRegistry.activate([{ manager: none, source: 'test' }], managerContext));
    expect(error.type).toBe('HardwareManagerNotFound');
  });

  it('a manager whose support check throws is disabled, not fatal', async () => {
    const broken = defineHardwareManager({
      name: 'broken',
      version: '1',
      evaluateHardwareSupport: () => {
        throw new Error('no dmidecode');
      },
    });
    const ok = defineHardwareManager({ name: 'ok', version: '1', evaluateHardwareSupport: () => 1 });
    const active = await ManagerRegistry.activate(
      [broken, ok].map((manager) => ({ manager, source: 'test' })),
      managerContext,
    );
    expect(active.managers.map((m) => m.manager.name)).toEqual(['ok']);
  });

  it('a support check that answers no number (a missing return in plain JavaScript) is reported, not silently dropped', async () => {
    // JavaScript, as a plugin author without TypeScript writes it: the Acme branch forgot `return`.
    const answers: Record<string, () => unknown> = {
      forgot_return: () => undefined,
      said_yes: () => true,
      said_text: () => 'SERVICE_PROVIDER',
      said_nan: () => Number.NaN,
      said_infinity: () => Number.POSITIVE_INFINITY,
    };
    const managers = Object.entries(answers).map(([name, answer]) =>
      defineHardwareManager({ name, version: '1', evaluateHardwareSupport: answer as () => number }),
    );
    const ok = defineHardwareManager({ name: 'ok', version: '1', evaluateHardwareSupport: () => HardwareSupport.NONE + 1 });
    const active = await ManagerRegistry.activate(
      [...managers, ok].map((manager) => ({ manager, source: 'test' })),
      managerContext,
    );
    expect(active.managers.map((m) => m.manager.name)).toEqual(['ok']);
    const shown = {
      forgot_return: 'undefined',
      said_yes: 'true',
      said_text: '"SERVICE_PROVIDER"',
      said_nan: 'NaN',
      said_infinity: 'Infinity',
    };
    expect(active.problems()).toEqual(
      Object.entries(shown).map(([manager, answer]) => ({
        source: 'test',
        manager,
        message: `evaluateHardwareSupport() returned ${answer}, not a support level (a number, HardwareSupport.NONE = 0 for "not this machine")`,
      })),
    );
  });
});

describe('step listing', () => {
  it('lists each step name once, for the highest-support manager, grouped by class name', async () => {
    const clean = (await registry.listSteps('clean')).steps;
    expect(Object.keys(clean).sort()).toEqual(['FixtureMainlineManager']);
    const shared = clean.FixtureMainlineManager!.find((s) => s.step === 'shared_step');
    expect(shared).toEqual({ step: 'shared_step', priority: 5, interface: 'deploy', reboot_requested: false, abortable: true });
    expect(clean.FixtureMainlineManager!.map((s) => s.step)).not.toContain('never_listed');
  });

  it('deploy steps have no abortable key; steps only one manager offers stay with it', async () => {
    const deploy = (await registry.listSteps('deploy')).steps;
    expect(deploy.FixtureGenericManager).toEqual([
      { step: 'generic_deploy_only', priority: 60, interface: 'deploy', reboot_requested: false },
    ]);
    expect(deploy.FixtureMainlineManager!.every((s) => !('abortable' in s))).toBe(true);
  });

  it('argsinfo is derived from the args schema', async () => {
    const args = (await registry.listSteps('clean')).steps.FixtureMainlineManager!.find((s) => s.step === 'fixture_args');
    expect(args).toMatchObject({
      interface: 'raid',
      argsinfo: {
        level: { description: 'RAID level to build', required: true },
        spares: { description: 'Hot spares', required: false },
      },
    });
  });

  it('argsinfo keeps a description written before .optional(), .default(), .nullable() or .transform()', () => {
    // Ironic names a missing required argument with its description ("url (Where the bundle
    // is)"); zod's wrappers are new schemas that do not carry the inner one's description.
    const step = defineStep({
      name: 'acme_flash',
      clean: { priority: 0 },
      args: z.object({
        url: z
          .string()
          .url()
          .describe('Where the bundle is')
          .transform((u) => new URL(u)),
        slot: z.number().int().describe('Firmware slot').nullable(),
        retries: z.number().describe('Attempts').default(3),
        bmc_password: z.string().describe('BMC password').optional(),
        // A transform that cannot take `undefined` (it is only ever run on a value).
        label: z
          .any()
          .transform((v: string) => v.trim())
          .describe('Label'),
      }),
      run: () => null,
    });
    expect(step.argsinfo).toEqual({
      url: { description: 'Where the bundle is', required: true },
      slot: { description: 'Firmware slot', required: true },
      retries: { description: 'Attempts', required: false },
      bmc_password: { description: 'BMC password', required: false },
      label: { description: 'Label', required: true },
    });
  });

  it('equal support: higher priority wins, then class name', async () => {
    const make = (name: string, priority: number) =>
      defineHardwareManager({
        name,
        version: '1',
        className: name.toUpperCase(),
        evaluateHardwareSupport: () => 1,
        steps: [defineStep({ name: 'same', clean: { priority }, run: () => name })],
      });
    const byPriority = await ManagerRegistry.activate(
      [make('low', 1), make('high', 9)].map((manager) => ({ manager, source: 't' })),
      managerContext,
    );
    expect(Object.keys((await byPriority.listSteps('clean')).steps)).toEqual(['HIGH']);
    const byName = await ManagerRegistry.activate(
      [make('zeta', 4), make('alpha', 4)].map((manager) => ({ manager, source: 't' })),
      managerContext,
    );
    expect(Object.keys((await byName.listSteps('clean')).steps)).toEqual(['ALPHA']);
  });
});

describe('dispatch', () => {
  it('runs a step on the highest-support manager that has it', async () => {
    expect(await registry.dispatchStep('shared_step', stepContext(), {})).toBe('mainline ran shared_step');
  });

  it('falls through to the next manager on IncompatibleHardwareMethodError', async () => {
    expect(await registry.dispatchStep('fixture_incompatible', stepContext(), {})).toBe('generic handled it');
  });

  it('a method falls through the same way; its arguments arrive as given, the context first', async () => {
    const ctx = stepContext();
    const calls: unknown[][] = [];
    const vendor = defineHardwareManager({
      name: 'vendor',
      version: '1',
      evaluateHardwareSupport: () => HardwareSupport.SERVICE_PROVIDER,
      methods: {
        erase_block_device: (stepCtx, device) => {
          calls.push(['vendor', stepCtx, device.path]);
          throw new IncompatibleHardwareMethodError(`${device.path} is not a vendor drive`);
        },
      },
    });
    const generic = defineHardwareManager({
      name: 'generic',
      version: '1',
      evaluateHardwareSupport: () => HardwareSupport.GENERIC,
      methods: {
        erase_block_device: (stepCtx, device) => {
          calls.push(['generic', stepCtx, device.path]);
          return { erased: device.path };
        },
      },
    });
    const active = await ManagerRegistry.activate(
      [generic, vendor].map((manager) => ({ manager, source: 'test' })),
      managerContext,
    );
    const device = { path: '/dev/sdq' } as BlockDevice;
    expect(await active.dispatchToManagers('erase_block_device', ctx, device)).toEqual({ erased: '/dev/sdq' });
    // The caller's context, carrying the called manager's own settings (none declared here).
    const received = { ...ctx, managerSettings: {} };
    expect(calls).toEqual([
      ['vendor', received, '/dev/sdq'],
      ['generic', received, '/dev/sdq'],
    ]);
  });

  it('any other error is the outcome: no fall-through', async () => {
    const error = await rejection(registry.dispatchStep('fixture_ipa_error', stepContext(), {}));
    expect(error.type).toBe('BlockDeviceEraseError');
  });

  it('an unknown method is HardwareManagerMethodNotFound with IPA wording', async () => {
    // A plain-JavaScript caller is not held to the method names TypeScript knows.
    const error = await rejection(registry.dispatchToManagers('no_such_method' as 'full_sync', managerContext));
    expect(isIpaError(error)).toBe(true);
    expect(error.toWire()).toEqual({
      type: 'HardwareManagerMethodNotFound',
      code: 500,
      message: 'No HardwareManager found to handle method',
      details: 'Could not find method: no_such_method',
    });
  });

  it('dispatchToAllManagers answers per class name, skipping managers that decline', async () => {
    const make = (name: string, support: number, answer: () => object) =>
      defineHardwareManager({
        name,
        version: '1',
        className: name.toUpperCase(),
        evaluateHardwareSupport: () => support,
        methods: { get_partition_uuids: answer },
      });
    const declining = () => {
      throw new IncompatibleHardwareMethodError();
    };
    const active = await ManagerRegistry.activate(
      [
        make('top', 3, () => ({ 'root uuid': 'top' })),
        make('mid', 2, declining),
        make('low', 1, () => ({ 'root uuid': 'low' })),
      ].map((manager) => ({ manager, source: 'test' })),
      managerContext,
    );
    expect(await active.dispatchToAllManagers('get_partition_uuids', active.context)).toEqual({
      TOP: { 'root uuid': 'top' },
      LOW: { 'root uuid': 'low' },
    });
  });

  it('refuses a method name outside the well-known ones when the manager is defined', () => {
    expect(() =>
      defineHardwareManager({
        name: 'typo',
        version: '1',
        evaluateHardwareSupport: () => 1,
        methods: { erase_block_devices: () => null } as never,
      }),
    ).toThrow(/methods\.erase_block_devices is not a well-known method \(erase_block_device, /);
  });

  it('validates args with the step schema: defaults applied, unknown and missing args refused', async () => {
    expect(await registry.dispatchStep('fixture_args', stepContext(), { level: '1' })).toEqual({
      built: { level: '1', spares: 0 },
    });
    const missing = await rejection(registry.dispatchStep('fixture_args', stepContext(), {}));
    expect(missing.type).toBe('InvalidCommandParamsError');
    expect(missing.details).toMatch(/^step fixture_args: level: /);
    const unknown = await rejection(registry.dispatchStep('fixture_args', stepContext(), { level: '0', colour: 'red' }));
    expect(unknown.details).toMatch(/colour/);
  });
});

describe('version check', () => {
  it('passes when nothing was sent (first run) or the same versions were sent', () => {
    expect(() => registry.checkVersions(undefined)).not.toThrow();
    expect(() => registry.checkVersions(null)).not.toThrow();
    expect(() => registry.checkVersions({ fixture_generic: '1.5', fixture_mainline: '2.0' })).not.toThrow();
  });

  it.each([[{ fixture_mainline: '2.0' }], [{ fixture_mainline: '2.0', fixture_generic: '1.4' }], ['1.2']])(
    'differing versions %j → VersionMismatch (409) with both sides in Python notation',
    (sent) => {
      try {
        registry.checkVersions(sent);
        throw new Error('expected a mismatch');
      } catch (error: any) {
        expect(error.type).toBe('VersionMismatch');
        expect(error.code).toBe(409);
        expect(error.summary).toBe('Hardware managers version mismatch, reload agent with correct version');
        expect(error.details).toMatch(
          /^Current versions: \{'fixture_mainline': '2.0', 'fixture_generic': '1.5'\}, versions used by ironic: /,
        );
      }
    },
  );
});

describe('defineStep and defineHardwareManager checks', () => {
  it('rejects malformed declarations with messages naming the culprit', () => {
    expect(() => defineStep({ name: 'Bad-Name', clean: { priority: 1 }, run: () => null })).toThrow(/snake_case/);
    expect(() => defineStep({ name: 'nowhere', run: () => null })).toThrow(/no phase/);
    expect(() => defineStep({ name: 'neg', clean: { priority: -1 }, run: () => null })).toThrow(/non-negative integer/);
    const step = defineStep({ name: 'dup', clean: { priority: 1 }, args: z.object({}), run: () => null });
    expect(() =>
      defineHardwareManager({ name: 'm', version: '1', evaluateHardwareSupport: () => 1, steps: [step, step] }),
    ).toThrow(
      /"m" declares step "dup" twice \(the same definition at \/.*managers-activate-by-support\.test\.ts:\d+:\d+, listed twice\)/,
    );
  });
  it('refuses the step names a conductor runs itself, which would never reach the agent', () => {
    // Ironic 22.1+ (steps.py use_reserved_step_handler) acts on these names whatever the
    // interface: a vendor's in-band "reboot" clean step would power-cycle the node instead.
    for (const name of ['power_on', 'power_off', 'reboot', 'hold', 'wait']) {
      expect(() => defineStep({ name, clean: { priority: 0 }, run: () => null })).toThrow(
        new RegExp(
          `^Step "${name}" \\(/.*managers-activate-by-support\\.test\\.ts:\\d+:\\d+\\): Ironic handles a step named "${name}" itself`,
        ),
      );
    }
    expect(defineStep({ name: 'acme_reboot_bmc', clean: { priority: 0 }, run: () => null }).name).toBe('acme_reboot_bmc');
  });
});
