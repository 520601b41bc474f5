// The exec wrapper: the only way the agent runs external programs. Real programs, real
// exit codes, timeouts and aborts.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExecError, formatCommand, hasCommand, run } from '../../src/hardware/exec.js';
import type { Logger } from '../../src/hardware/logger.js';

function recordingLogger() {
  const lines: { level: string; obj: any; msg?: string }[] = [];
  const make = (level: string) => (obj: any, msg?: string) => lines.push({ level, obj, ...(msg ? { msg } : {}) });
  const logger: Logger = {
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: () => logger,
  };
  return { logger, lines };
}

describe('run', () => {
  it('returns stdout, stderr and the exit code, and logs the command line', async () => {
    const { logger, lines } = recordingLogger();
    const result = await run('sh', ['-c', 'echo out; echo err >&2'], { logger });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'out\n', stderr: 'err\n', command: "sh -c 'echo out; echo err >&2'" });
    expect(lines.some((l) => l.obj.command === "sh -c 'echo out; echo err >&2'")).toBe(true);
  });

  it('runs tools in the C locale so parsers see stable output', async () => {
    const { stdout } = await run('sh', ['-c', 'echo $LC_ALL']);
    expect(stdout.trim()).toBe('C');
  });

  it('a failing program becomes an ExecError carrying exit code and stderr', async () => {
    const error = await run('sh', ['-c', 'echo "no such device" >&2; exit 3']).catch((e) => e);
    expect(error).toBeInstanceOf(ExecError);
    expect(error.exitCode).toBe(3);
    expect(error.stderr).toBe('no such device\n');
    expect(error.reason).toBe('exit');
    expect(error.details).toBe('sh -c \'echo "no such device" >&2; exit 3\' exited with code 3: no such device');
  });

  it('exit codes that carry information can be accepted', async () => {
    const result = await run('sh', ['-c', 'exit 4'], { okExitCodes: [0, 4] });
    expect(result.exitCode).toBe(4);
  });

  it('a program that runs too long is killed and reported as timed out', async () => {
    const started = Date.now();
    const error = await run('sleep', ['5'], { timeoutMs: 200 }).catch((e) => e);
    expect(error.reason).toBe('timeout');
    expect(error.details).toBe('sleep 5 timed out');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('an abort signal stops the program', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await run('sleep', ['5'], { signal: controller.signal }).catch((e) => e);
    expect(error.reason).toBe('aborted');
  });

  it('a missing program is reported as not installed', async () => {
    const error = await run('definitely-not-a-tool-xyz', ['--help']).catch((e) => e);
    expect(error.reason).toBe('not-found');
    expect(error.details).toBe('definitely-not-a-tool-xyz --help is not installed');
  });

  it('runs a program in the folder given, and a path that is not there is not installed', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'ramdisk-agent-exec-cwd-'));
    try {
      writeFileSync(join(folder, 'tool'), '#!/bin/sh\npwd\n');
      chmodSync(join(folder, 'tool'), 0o755);
      // A path relative to `cwd` names the folder's own program, as `./gpu_burn` in IPA.
      expect((await run('./tool', [], { cwd: folder })).stdout).toBe(`${folder}\n`);
      expect((await run(join(folder, 'tool'), [], { cwd: '/' })).stdout).toBe('/\n');
      const missing = await run(join(folder, 'absent'), ['-l']).catch((e) => e);
      expect(missing.reason).toBe('not-found');
      expect(missing.details).toBe(`${join(folder, 'absent')} -l is not installed`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a streamed tool that prints without end on stderr (fio on a failing disk) keeps only its last 16 KiB', async () => {
    let lines = 0;
    // 21 MB of fio's verification complaints, then the line that says why it stopped.
    const script =
      'yes "verify: bad magic header 0, wanted acca at file /dev/sdb offset 1048576, length 4096" | head -n 250000 >&2;' +
      ' echo "fio: pid=123, err=5/file:io_u.c:1889, func=io_u error, error=Input/output error" >&2; exit 1';
    const error = await run('sh', ['-c', script], { keepStdout: false, onLine: () => lines++ }).catch((e) => e);
    expect(lines).toBeGreaterThan(200_000); // every line still reached the reader
    expect(error).toBeInstanceOf(ExecError);
    expect(error.exitCode).toBe(1);
    expect(error.stderr.length).toBeLessThan(17 * 1024);
    expect(error.stderr).toMatch(/^\[\d+ earlier characters left out\]\nverify: bad magic header/);
    expect(error.stderr.trimEnd().split('\n').at(-1)).toMatch(/^fio: pid=123, err=5/);
    // The message (a step's command_error) is as short, and names what fio said last.
    expect(error.message.length).toBeLessThan(18 * 1024);
    expect(error.message).toMatch(/error=Input\/output error$/);
  });

  it('streams output lines (including \\r-terminated progress) while the program runs', async () => {
    const seen: string[] = [];
    await run('sh', ['-c', 'printf "a\\rb\\nc\\n"; printf "progress 50%%\\r" >&2'], {
      onLine: (line, stream) => seen.push(`${stream}:${line}`),
    });
    expect(seen).toEqual(expect.arrayContaining(['stdout:a', 'stdout:b', 'stdout:c', 'stderr:progress 50%']));
  });

  it('background priority still runs the program', async () => {
    const { stdout } = await run('sh', ['-c', 'echo $(nice)'], { priority: 'background' });
    expect(Number(stdout.trim())).toBeGreaterThanOrEqual(10);
  });
});

describe('helpers', () => {
  it('quotes arguments only when needed', () => {
    expect(formatCommand('wipefs', ['--all', '/dev/loop0'])).toBe('wipefs --all /dev/loop0');
    expect(formatCommand('sh', ['-c', "it's"])).toBe(`sh -c 'it'\\''s'`);
  });

  it('hasCommand finds tools on PATH without running them', async () => {
    expect(await hasCommand('sh')).toBe(true);
    expect(await hasCommand('definitely-not-a-tool-xyz')).toBe(false);
  });
});
