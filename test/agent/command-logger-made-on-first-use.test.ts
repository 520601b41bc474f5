/**
 * A command's logger carries its name and id on every line, but is made only when the
 * command logs: creating a pino child serialises its bindings, a cost most commands
 * (`get_clean_steps`) never need.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChild } from '../../src/shared/logger.js';

function collectingPino() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe('lazyChild', () => {
  it('makes the child on the first line only, and every line carries the bindings', () => {
    const { log, lines } = collectingPino();
    let children = 0;
    const parent = Object.assign(Object.create(log) as typeof log, {
      child: (bindings: Record<string, unknown>) => {
        children++;
        return log.child(bindings);
      },
    });
    const child = lazyChild(parent, { command: 'clean.get_clean_steps', command_id: 'c1' });
    expect(children).toBe(0);
    child.info('first');
    child.warn({ step: 'erase_devices' }, 'second');
    child.child({ subcommand: 'x' }).error('third');
    expect(children).toBe(1);
    expect(lines.map((l) => [l.msg, l.command, l.command_id])).toEqual([
      ['first', 'clean.get_clean_steps', 'c1'],
      ['second', 'clean.get_clean_steps', 'c1'],
      ['third', 'clean.get_clean_steps', 'c1'],
    ]);
    expect(lines[1]).toMatchObject({ step: 'erase_devices', level: 40 });
    expect(lines[2]).toMatchObject({ subcommand: 'x', level: 50 });
  });
});
