// fio says why a job failed on stdout ("fio: pid=.., err=111/file:engines/net.c:800,
// func=connect, error=Connection refused"), not stderr: the step's error carries those lines,
// as IPA's shows a failed tool's stdout beside its stderr. Real fio, a real refused connection;
// and a real disk job stopped by an error fio reports in its final JSON (a full filesystem
// under the allow-listed file), whose part said only "fio stopped with error 28".
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { freeFioPorts, runStep, startBurninAgent } from './helpers.js';

const agents: RunningAgent[] = [];
const mounts: string[] = [];

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  for (const dir of mounts.splice(0)) {
    execFileSync('umount', [dir]);
    rmdirSync(dir);
  }
});

const isRoot = process.getuid?.() === 0;

describe('a failed fio', () => {
  it("names fio's own reason, printed on stdout, in the step's error", async () => {
    // Nothing listens there; a pairing timeout of 0 fails at the first refusal instead of retrying.
    const port = await freeFioPorts();
    const { agent, client } = await startBurninAgent();
    agents.push(agent);
    const { final } = await runStep(client, 'burnin_network', {
      agent_burnin_fio_network_target: `127.0.0.1:${port}`,
      agent_burnin_fio_network_runtime: 3,
      agent_burnin_fio_network_pairing_timeout: 0,
    });
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.type).toBe('CommandExecutionError');
    const details: string = final.command_error.details;
    expect(details).toMatch(/^fio \(network\) failed with error fio .* exited with code \d+; stdout: fio: pid=\d+/);
    expect(details).toMatch(/func=connect, error=Connection refused/);
    // Bounded: fio's 16 jobs each print a line; the last 10 are kept, no JSON report.
    expect(details.split('\n').length).toBeLessThanOrEqual(10);
    expect(details).not.toContain('"jobs"');
  });

  it.skipIf(!isRoot)("names fio's reason for a disk job it stopped, not only the errno", async () => {
    // A 16 MiB sparse file on a 2 MiB tmpfs of the test's own: fio's writes run out of space
    // (ENOSPC, errno 28), fio stops the job, prints why on stdout and reports error 28.
    const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-fio-enospc-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'ramdisk-agent-test', dir]);
    mounts.push(dir);
    const file = join(dir, 'disk.img');
    writeFileSync(file, '');
    truncateSync(file, 16 * 1024 * 1024);
    const { agent, client } = await startBurninAgent([file]);
    agents.push(agent);
    const { final } = await runStep(client, 'burnin_disk', { agent_burnin_fio_disk_runtime: 2 });
    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.type).toBe('CleaningError');
    expect(final.command_error.details).toMatch(
      new RegExp(`^burnin_disk failed: ${file}: fio stopped with error 28 \\(fio: err=28/[^)]*error=No space left on device\\)`),
    );
  });
});
