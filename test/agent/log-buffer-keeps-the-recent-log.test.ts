import { describe, expect, it } from 'vitest';
import { LogBuffer } from '../../src/agent/log-buffer.js';

describe('the in-memory agent log', () => {
  it('returns every line in order while under its limit, multi-byte text intact', () => {
    const buffer = new LogBuffer();
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} — ünïcødé ${'x'.repeat(i % 300)}\n`);
    for (const line of lines) buffer.append(line);
    expect(buffer.text()).toBe(lines.join(''));
  });

  it('keeps the newest lines and drops the oldest once over its limit, never more than the limit plus one block', () => {
    const limit = 256 * 1024;
    const buffer = new LogBuffer(limit);
    const lines = Array.from({ length: 20_000 }, (_, i) => `{"msg":"request ${i}"}\n`);
    for (const line of lines) buffer.append(line);
    const text = buffer.text();
    expect(text.endsWith(lines.at(-1)!)).toBe(true);
    expect(text.startsWith(lines[0]!)).toBe(false);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(limit);
    expect(Buffer.byteLength(text)).toBeGreaterThan(limit - 64 * 1024);
    // What is kept is a run of whole lines, the latest ones, in order.
    const kept = text.split('\n').filter(Boolean);
    const first = Number(/request (\d+)/.exec(kept[0]!)![1]);
    expect(kept).toEqual(lines.slice(first).map((l) => l.trimEnd()));
  });

  it('keeps a line longer than a block whole', () => {
    const buffer = new LogBuffer();
    const long = `${'y'.repeat(200_000)}\n`;
    buffer.append('before\n');
    buffer.append(long);
    buffer.append('after\n');
    expect(buffer.text()).toBe(`before\n${long}after\n`);
  });

  it('passes every line on to the next destination as it keeps it', () => {
    const buffer = new LogBuffer();
    const seen: string[] = [];
    const tee = buffer.tee({ write: (line: string) => seen.push(line) } as unknown as NodeJS.WritableStream);
    tee.write('one\n');
    tee.write('two\n');
    expect(seen).toEqual(['one\n', 'two\n']);
    expect(buffer.text()).toBe('one\ntwo\n');
  });
});
