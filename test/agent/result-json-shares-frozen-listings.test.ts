/**
 * A command result's JSON is exactly what redacting and serialising it whole gives, whether or
 * not parts of it are deep-frozen (a hardware manager's step listing): those are serialised
 * once and their bytes shared by every result that carries them; anything that could still
 * change is serialised each time.
 */
import { describe, expect, it } from 'vitest';
import { CommandResult } from '../../src/agent/command-result.js';
import { redactValue } from '../../src/agent/redact.js';
import { joinSegments, resultJsonSegments } from '../../src/agent/result-json.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

const listing = () =>
  deepFreeze({
    GenericHardwareManager: [
      { step: 'erase_devices', priority: 10, interface: 'deploy', reboot_requested: false, abortable: true },
      {
        step: 'write_image',
        priority: 0,
        interface: 'deploy',
        argsinfo: { image_info: { description: 'see https://user:hunter22@images.example.org/x', required: true } },
      },
    ],
  });

const whole = (value: unknown) => JSON.stringify(redactValue(value) ?? null) ?? 'null';

describe('result JSON', () => {
  it('is byte for byte the redacted JSON of the whole value', () => {
    const frozen = listing();
    const values: unknown[] = [
      { clean_steps: frozen, hardware_manager_version: { generic_hardware_manager: '1.2' } },
      { clean_steps: frozen, skipped: undefined, fn: () => 1, token: 'secret-value', configdrive: 'H4sIAAAA', n: 3 },
      { first: frozen, second: frozen },
      { 2: 'two', 1: frozen, b: [undefined, null], a: { nested: 'https://u:p@h/' } },
      { only: undefined },
      {},
      frozen,
      [frozen, 1],
      'a string',
      null,
      undefined,
      42,
      { when: new Date(0), list: Object.freeze([Object.freeze({ at: new Date(0) })]) },
      { partly: Object.freeze({ open: { changeable: 1 } }) },
      Object.assign(Object.create(null) as object, { steps: frozen }),
    ];
    for (const value of values) expect(joinSegments(resultJsonSegments(value))).toBe(whole(value));
  });

  it('masks secrets inside a frozen listing as it does anywhere else', () => {
    const json = joinSegments(resultJsonSegments({ clean_steps: listing() }));
    expect(json).not.toContain('hunter22');
    expect(json).toContain('https://***@images.example.org/x');
  });

  it('shares the bytes of one frozen listing between results, and serialises a mutable one each time', () => {
    const frozen = listing();
    const [, a] = resultJsonSegments({ clean_steps: frozen, v: 1 });
    const [, b] = resultJsonSegments({ clean_steps: frozen, v: 2 });
    expect(Buffer.isBuffer(a)).toBe(true);
    expect(a).toBe(b);

    const open = { steps: [{ step: 'erase_devices' }] };
    expect(resultJsonSegments({ clean_steps: open })).toEqual(['{"clean_steps":{"steps":[{"step":"erase_devices"}]}}']);
    open.steps.push({ step: 'later' });
    expect(joinSegments(resultJsonSegments({ clean_steps: open }))).toContain('later');
  });

  it('fails a result JSON cannot carry, as before', () => {
    const result = new CommandResult('get_clean_steps');
    result.succeed({ clean_steps: listing(), big: 1n });
    expect(result.status).toBe('FAILED');
    expect(result.toWire().command_error?.details).toMatch(/could not be serialised/);
  });

  it('serves the same wire JSON whole, in parts and as a string', () => {
    const result = new CommandResult('get_clean_steps');
    result.succeed({ clean_steps: listing(), hardware_manager_version: { generic_hardware_manager: '1.2' } });
    const text = result.toJSONString();
    expect(Buffer.concat([...result.toJSONParts()]).toString()).toBe(text);
    expect(result.toJSONBuffer().toString()).toBe(text);
    expect(result.wireBytes).toBe(Buffer.byteLength(text));
    expect(result.toWire()).toMatchObject({ command_status: 'SUCCEEDED', command_result: JSON.parse(whole(result.result)) });
    expect(JSON.parse(text).command_result.clean_steps.GenericHardwareManager[0].step).toBe('erase_devices');
  });

  it('keeps shared parts at their byte offsets: after multi-byte text, side by side, alone', () => {
    const frozen = listing();
    const values = [
      { first: frozen, second: frozen },
      { 'clé é': 'значение ✓', steps: frozen, après: 'ü', more: frozen },
      { steps: frozen, b: 'ü' },
      frozen,
    ];
    for (const value of values) {
      const result = new CommandResult('get_clean_steps');
      result.succeed(value);
      const expected = `{"id":${JSON.stringify(result.id)},"command_name":"get_clean_steps","command_status":"SUCCEEDED","command_error":null,"command_result":${whole(value)},"command_progress":null}`;
      expect(Buffer.concat([...result.toJSONParts()]).toString()).toBe(expected);
      expect(result.toJSONBuffer().toString()).toBe(expected);
      expect(result.toJSONString()).toBe(expected);
      expect(result.wireBytes).toBe(Buffer.byteLength(expected));
    }
  });

  it('settles a wait begun before the command finished, and one begun after', async () => {
    const result = new CommandResult('execute_clean_step');
    let settled = false;
    const early = result.whenDone().then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    result.succeed({ clean_result: null });
    await early;
    expect(settled).toBe(true);
    await expect(result.whenDone()).resolves.toBeUndefined();
  });
});
