/**
 * Log lines that stdout cannot take yet (a pipe to a slow serial console) wait within a bound:
 * past it they are left out of stdout, counted, and a line says how many once it drains;
 * the in-memory log (log.collect_system_logs) keeps every one of them.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { boundedOutput } from '../../src/agent/bounded-output.js';
import { LogBuffer } from '../../src/agent/log-buffer.js';

/** Everything the stream holds, read out until nothing waits on either side. */
async function drain(stream: PassThrough): Promise<string> {
  let text = '';
  while (stream.writableLength > 0 || stream.readableLength > 0) {
    text += String(stream.read() ?? '');
    await new Promise((resolve) => setImmediate(resolve));
  }
  return text;
}

const line = (i: number) => `{"level":30,"msg":"127.0.0.1 - GET /v1/status - 200 (0.2ms) #${i}"}\n`;

describe('log lines on their way to stdout', () => {
  it('hold at most the limit while nothing drains, and every line stays in the in-memory log', () => {
    const stdout = new PassThrough(); // nobody reads: what is written waits in it
    const limit = 64 * 1024;
    const buffer = new LogBuffer();
    const out = boundedOutput(stdout, limit);
    const lines = Array.from({ length: 20_000 }, (_, i) => line(i)); // ~1.3 MB
    for (const l of lines) {
      buffer.append(l);
      out.write(l);
    }
    expect(stdout.writableLength).toBeLessThanOrEqual(limit + lines[0]!.length * 2);
    expect(buffer.text()).toBe(lines.join(''));
  });

  it('says how many lines it left out once stdout has drained, then goes on in order', async () => {
    const stdout = new PassThrough();
    const limit = 16 * 1024;
    const out = boundedOutput(stdout, limit);
    for (let i = 0; i < 1000; i++) out.write(line(i));
    // Read out: the pipe drains, and the notice follows the lines that waited.
    const written = (await drain(stdout)).split('\n').filter(Boolean);
    const notice = JSON.parse(written.at(-1)!) as { level: number; msg: string };
    const passed = written.slice(0, -1);
    expect(passed.length).toBeGreaterThan(0);
    expect(passed.length).toBeLessThan(1000);
    expect(passed).toEqual(Array.from({ length: passed.length }, (_, i) => line(i).trimEnd()));
    expect(notice.level).toBe(40);
    expect(notice.msg).toContain(`${1000 - passed.length} log lines were left out of stdout`);
    expect(notice.msg).toContain('log.collect_system_logs');

    out.write(line(1000));
    expect((await drain(stdout)).split('\n').filter(Boolean)).toEqual([line(1000).trimEnd()]);
  });

  it('goes back to writing only once the backlog is down to half the limit', () => {
    // A destination whose backlog the test sets, as a pipe's rises and falls.
    const written: string[] = [];
    const stdout = { writableLength: 0, write: (text: string) => written.push(text) };
    const out = boundedOutput(stdout, 1000);
    stdout.writableLength = 1001;
    out.write(line(1));
    stdout.writableLength = 900; // below the limit, above half of it: still left out
    out.write(line(2));
    stdout.writableLength = 500;
    out.write(line(3));
    expect(written).toHaveLength(2);
    expect(JSON.parse(written[0]!).msg).toMatch(/^2 log lines were left out of stdout/);
    expect(written[1]).toBe(line(3));
  });

  it('says how many it left out when stdout drains, even if nothing is logged after', () => {
    const written: string[] = [];
    const stdout = Object.assign(new EventEmitter(), { writableLength: 5000, write: (text: string) => written.push(text) });
    const out = boundedOutput(stdout, 1000);
    for (let i = 0; i < 3; i++) out.write(line(i));
    expect(stdout.listenerCount('drain')).toBe(1); // one, however many lines are left out
    stdout.writableLength = 0;
    stdout.emit('drain');
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0]!).msg).toMatch(/^3 log lines were left out of stdout/);
    stdout.emit('drain');
    expect(written).toHaveLength(1);
  });

  it('writes everything through while stdout keeps up', () => {
    const stdout = new PassThrough();
    const out = boundedOutput(stdout, 16 * 1024);
    const seen: string[] = [];
    stdout.on('data', (chunk: Buffer) => seen.push(String(chunk)));
    for (let i = 0; i < 5000; i++) out.write(line(i));
    expect(seen.join('')).toBe(Array.from({ length: 5000 }, (_, i) => line(i)).join(''));
  });
});
