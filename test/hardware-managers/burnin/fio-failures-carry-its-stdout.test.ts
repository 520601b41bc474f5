// fio says why a job failed on stdout ("fio: pid=.., err=111/file:engines/net.c:800,
// func=connect, error=Connection refused"), not stderr: the step's error carries those lines,
// as IPA's shows a failed tool's stdout beside its stderr. Real fio, a real refused connection.
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { freeFioPorts, runStep, startBurninAgent } from './helpers.js';

const agents: RunningAgent[] = [];

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

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
});
