/**
 * cleanStep / deployStep: Ironic's parameters, defaults and decoration-time validation
 * messages (reference §1.2–§1.3), stacking, inheritance and the plain function form.
 */
import { describe, expect, it } from 'vitest';
import { cleanStep, deployStep, verifyStep } from '../../src/conductor/decorators.js';
import { CustomAgentDeploy, AgentDeploy } from '../../src/conductor/drivers/agent.js';
import { ManagementInterface } from '../../src/conductor/drivers/base.js';
import { InvalidParameterValue } from '../../src/conductor/errors.js';
import type { Task } from '../../src/conductor/task.js';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidParameterValue);
    return (error as Error).message;
  }
  throw new Error('expected InvalidParameterValue');
}

class BaseMgmt extends ManagementInterface {
  getSupportedBootDevices() {
    return ['pxe', 'disk'];
  }
  setBootDevice() {}
}

describe('decoration-time validation (Ironic messages)', () => {
  it('rejects a non-integer clean priority, and a negative or non-integer deploy priority', () => {
    expect(messageOf(() => cleanStep({ priority: 'high' as never }))).toBe(
      '"priority" must be an integer value instead of "high"',
    );
    expect(messageOf(() => cleanStep({ priority: 1.5 }))).toBe('"priority" must be an integer value instead of "1.5"');
    expect(() => cleanStep({ priority: -1 })).not.toThrow();
    expect(messageOf(() => deployStep({ priority: -1 }))).toBe('"priority" must be an integer value >= 0, instead of "-1"');
    expect(messageOf(() => deployStep({ priority: null as never }))).toBe(
      '"priority" must be an integer value >= 0, instead of "None"',
    );
    expect(messageOf(() => verifyStep({ priority: -5 }))).toBe('"priority" must be an integer value >= 0, instead of "-5"');
  });

  it('rejects a non-boolean abortable', () => {
    expect(messageOf(() => cleanStep({ priority: 0, abortable: 'yes' as never }))).toBe(
      '"abortable" must be a Boolean value instead of "yes"',
    );
  });

  it('checks argsinfo with each of Ironic’s messages', () => {
    expect(messageOf(() => cleanStep({ priority: 0, argsinfo: 'x' as never }))).toBe(
      '"argsinfo" must be a dictionary instead of "x"',
    );
    expect(messageOf(() => cleanStep({ priority: 0, argsinfo: { a: 'b' } as never }))).toBe(
      'Argument "a" must be a dictionary instead of "b".',
    );
    expect(messageOf(() => cleanStep({ priority: 0, argsinfo: { a: { description: 'd', default: 1 } } as never }))).toBe(
      'Argument "a" has an invalid key named "default". It must be "description" or "required".',
    );
    expect(messageOf(() => cleanStep({ priority: 0, argsinfo: { a: { description: 3 } } as never }))).toBe(
      'For argument "a", "description" must be a string value instead of "3".',
    );
    expect(messageOf(() => deployStep({ priority: 0, argsinfo: { a: { description: 'd', required: 'yes' } } as never }))).toBe(
      'For argument "a", "required" must be a Boolean value instead of "yes".',
    );
    expect(messageOf(() => deployStep({ priority: 0, argsinfo: { a: { required: true } } as never }))).toBe(
      'Argument "a" is missing a "description".',
    );
    expect(() => cleanStep({ priority: 0, argsinfo: {} })).not.toThrow();
  });
});

describe('collected step dicts', () => {
  class Mgmt extends BaseMgmt {
    @cleanStep({ priority: 10, argsinfo: { level: { description: 'how much', required: true } } })
    @deployStep({ priority: 0 })
    async resetBmc(_task: Task, _args?: { level?: number }) {}

    @cleanStep({ priority: 0, abortable: true, requiresRamdisk: false, name: 'clear_SEL' })
    async clearSel(_task: Task) {}
  }

  it('builds Ironic’s keys and defaults; a method may be both a clean and a deploy step', () => {
    const mgmt = new Mgmt();
    expect(mgmt.cleanSteps).toEqual([
      { step: 'clear_SEL', priority: 0, argsinfo: null, interface: 'management', abortable: true, requires_ramdisk: false },
      {
        step: 'reset_bmc',
        priority: 10,
        argsinfo: { level: { description: 'how much', required: true } },
        interface: 'management',
        abortable: false,
        requires_ramdisk: true,
      },
    ]);
    // 2023.1 deploy steps carry no `abortable`.
    expect(mgmt.deploySteps).toEqual([{ step: 'reset_bmc', priority: 0, argsinfo: null, interface: 'management' }]);
  });

  it('a subclass adds steps without touching its parent, and an undecorated override removes one', () => {
    class MoreMgmt extends Mgmt {
      @cleanStep({ priority: 5 })
      async flashFirmware(_task: Task) {}

      // Overridden without a decorator: no longer a step (as in Python).
      override async resetBmc() {}
    }
    expect(new MoreMgmt().cleanSteps.map((s) => s.step)).toEqual(['clear_SEL', 'flash_firmware']);
    expect(new Mgmt().cleanSteps.map((s) => s.step)).toEqual(['clear_SEL', 'reset_bmc']);
  });

  it('the plain function form marks a function assigned to a class', async () => {
    class Plain extends BaseMgmt {}
    const calls: unknown[] = [];
    (Plain.prototype as unknown as Record<string, unknown>).updateFirmware = cleanStep({
      priority: 0,
      argsinfo: { firmware_images: { description: 'images', required: true } },
    })(async function (this: Plain, _task: Task, args: unknown) {
      calls.push(args);
    });
    const plain = new Plain();
    expect(plain.cleanSteps).toEqual([
      {
        step: 'update_firmware',
        priority: 0,
        argsinfo: { firmware_images: { description: 'images', required: true } },
        interface: 'management',
        abortable: false,
        requires_ramdisk: true,
      },
    ]);
    await plain.executeCleanStep({} as Task, {
      step: 'update_firmware',
      interface: 'management',
      priority: 0,
      args: { firmware_images: [1] },
    });
    expect(calls).toEqual([{ firmware_images: [1] }]);
  });

  it('refuses at compile time a method that needs an argument its argsinfo does not declare', () => {
    class Typed extends BaseMgmt {
      @cleanStep({ priority: 0, argsinfo: { level: { description: 'how much', required: true } } })
      async fine(_task: Task, _args: { level: number }) {}

      // @ts-expect-error `size` is not declared in argsinfo, so the conductor could never pass it
      @cleanStep({ priority: 0, argsinfo: { level: { description: 'how much' } } })
      async needsSize(_task: Task, _args: { size: number }) {}
    }
    // (At run time both are steps: the check is the compiler's.)
    expect(new Typed().cleanSteps.map((s) => s.step)).toEqual(['fine', 'needs_size']);
  });

  it('the direct and custom-agent interfaces carry Ironic’s deploy step priorities', () => {
    const sorted = (steps: Array<{ step: string; priority: number }>) =>
      [...steps].sort((a, b) => b.priority - a.priority).map((s) => `${s.step} ${s.priority}`);
    expect(sorted(new AgentDeploy().deploySteps)).toEqual([
      'deploy 100',
      'write_image 80',
      'prepare_instance_boot 60',
      'tear_down_agent 40',
      'switch_to_tenant_network 30',
      'boot_instance 20',
    ]);
    expect(sorted(new CustomAgentDeploy().deploySteps)).toEqual([
      'deploy 100',
      'prepare_instance_boot 60',
      'tear_down_agent 40',
      'switch_to_tenant_network 30',
      'boot_instance 20',
    ]);
  });
});
