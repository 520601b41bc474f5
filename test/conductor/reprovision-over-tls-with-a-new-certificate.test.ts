/**
 * The same node provisioned twice by one conductor process, each time by a freshly booted
 * auto-TLS agent with a new self-signed certificate (stored by the conductor at the same
 * path). The second run must verify against the second certificate: a connection pool
 * cached for the first one failed every request with "self-signed certificate".
 */
import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { states } from '../../src/conductor/states.js';
import { conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, waitFor } from './helpers.js';

describe('re-provisioning over auto-TLS', () => {
  it('cleans the node twice without a conductor restart, each time verifying the new agent’s certificate', async ({ lab }) => {
    const { conductor } = await lab.start();
    const node = await enrollHostNode(conductor);
    await conductor.provision(node.uuid, 'manage');

    const certificates: string[] = [];
    for (let round = 0; round < 2; round++) {
      await conductor.provision(node.uuid, 'clean', { cleanSteps: [{ interface: 'deploy', step: 'fixture_quick' }] });
      const agent = await lab.agent({ enableAutoTls: true });
      let caPath = '';
      let certificate = '';
      const done = await waitFor('cleaning to end', () => {
        const n = conductor.store.getNode(node.uuid);
        caPath ||= n.driverInternalInfo.agent_verify_ca ?? '';
        if (caPath && !certificate) certificate = readFileSync(caPath, 'utf8');
        return n.provisionState === states.MANAGEABLE || n.provisionState === states.CLEANFAIL ? n : undefined;
      });
      expect(done.lastError).toBeNull();
      expect(done.provisionState).toBe(states.MANAGEABLE);
      certificates.push(`${caPath}\n${certificate}`);
      // The machine powers off; the next boot brings a new agent with a new key.
      await agent.close();
    }
    const [first, second] = certificates.map((c) => c.split('\n'));
    expect(second![0]).toBe(first![0]); // the same path...
    expect(second!.slice(1).join('\n')).not.toBe(first!.slice(1).join('\n')); // ...holding a new certificate
  });
});
