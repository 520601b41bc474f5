/**
 * The API's writes to a node (PATCH, DELETE, target RAID config) as Ironic's conductor does
 * them: under the node's exclusive lock (409 NodeLocked while a worker holds it, instead of a
 * write that the worker's next save undoes), DELETE only in states where nothing runs, and
 * leaving maintenance clears `fault` and `maintenance_reason`.
 */
import { describe, expect } from 'vitest';
import { states } from '../../src/conductor/states.js';
import { TaskManager } from '../../src/conductor/task.js';
import { conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, type RunningConductor, waitForState } from './helpers.js';

const apiOf = (running: RunningConductor) =>
  async function call(method: string, path: string, body?: unknown) {
    const response = await fetch(`${running.url}${path}`, {
      method,
      headers: {
        'x-openstack-ironic-api-version': '1.82',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : undefined;
    const fault = parsed?.error_message ? JSON.parse(parsed.error_message) : undefined;
    return { status: response.status, body: parsed, fault };
  };

describe('API writes to a node', () => {
  it('answer 409 NodeLocked while a worker holds the node, so its save cannot undo them', async ({ lab }) => {
    const running = await lab.start();
    const api = apiOf(running);
    const { conductor } = running;
    const node = await enrollHostNode(conductor);
    // What a step worker holds: the exclusive task, with the node in memory.
    const worker = await TaskManager.acquire(conductor, node.uuid, { purpose: 'provision action deploy' });
    let released = false;
    lab.defer(() => released || worker.release());

    const patched = await api('PATCH', `/v1/nodes/${node.uuid}`, [{ op: 'replace', path: '/maintenance', value: true }]);
    expect(patched.status).toBe(409);
    expect(patched.fault.faultstring).toBe(
      `Node ${node.uuid} is locked by host test-conductor, please retry after the current operation is completed.`,
    );
    const raid = await api('PUT', `/v1/nodes/${node.uuid}/states/raid`, {
      logical_disks: [{ size_gb: 'MAX', raid_level: '1', controller: 'software' }],
    });
    expect(raid.status).toBe(409);
    expect((await api('DELETE', `/v1/nodes/${node.uuid}`)).status).toBe(409);

    // The worker goes on and saves its copy of the node, then ends.
    worker.node.driverInternalInfo.worker_was_here = true;
    worker.node.save();
    worker.release();
    released = true;

    const after = conductor.store.getNode(node.uuid);
    expect(after.maintenance).toBe(false);
    expect(after.driverInternalInfo.worker_was_here).toBe(true);
    expect(after.targetRaidConfig).toEqual({});
    // Once the node is free, the same request goes through and stays.
    const retried = await api('PATCH', `/v1/nodes/${node.uuid}`, [{ op: 'replace', path: '/maintenance', value: true }]);
    expect(retried.status).toBe(200);
    expect(retried.body.maintenance).toBe(true);
    expect(conductor.store.getNode(node.uuid)).toMatchObject({ maintenance: true });
    expect(conductor.store.getNode(node.uuid).driverInternalInfo.worker_was_here).toBe(true);
  });

  it('refuses to delete a node that is being cleaned, unless it is in maintenance', async ({ lab }) => {
    const running = await lab.start();
    const api = apiOf(running);
    const { conductor } = running;
    const node = await enrollHostNode(conductor);
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'provide');
    await waitForState(conductor, node.uuid, states.CLEANWAIT);
    await conductor.idle();

    const refused = await api('DELETE', `/v1/nodes/${node.uuid}`);
    expect(refused.status).toBe(409);
    expect(refused.fault.faultstring).toBe(
      `Can not delete node "${node.uuid}" while it is in provision state "clean wait". Valid provision states to perform deletion are: "('manageable', 'enroll', 'available')", or set the node into maintenance mode`,
    );
    expect(conductor.store.getNode(node.uuid).provisionState).toBe(states.CLEANWAIT);

    expect((await api('PATCH', `/v1/nodes/${node.uuid}`, [{ op: 'add', path: '/maintenance', value: true }])).status).toBe(200);
    expect((await api('DELETE', `/v1/nodes/${node.uuid}`)).status).toBe(204);
    expect((await api('GET', `/v1/nodes/${node.uuid}`)).status).toBe(404);
  });

  it('clears fault and maintenance_reason when maintenance is unset, so the next cleaning powers the node off', async ({
    lab,
  }) => {
    const running = await lab.start();
    const api = apiOf(running);
    const { conductor } = running;
    const node = await enrollHostNode(conductor);
    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'clean', { cleanSteps: [{ interface: 'deploy', step: 'fixture_failing' }] });
    await lab.agent();
    const failed = await waitForState(conductor, node.uuid, states.CLEANFAIL);
    await conductor.idle();
    expect(failed).toMatchObject({ maintenance: true, fault: 'clean failure' });

    const unset = await api('PATCH', `/v1/nodes/${node.uuid}`, [{ op: 'replace', path: '/maintenance', value: false }]);
    expect(unset.status).toBe(200);
    expect(unset.body).toMatchObject({ maintenance: false, fault: null, maintenance_reason: null });

    await conductor.provision(node.uuid, 'manage');
    await conductor.provision(node.uuid, 'clean', { cleanSteps: [{ interface: 'deploy', step: 'fixture_quick' }] });
    const cleaned = await waitForState(conductor, node.uuid, [states.MANAGEABLE, states.CLEANFAIL]);
    await conductor.idle();
    expect(cleaned.lastError).toBeNull();
    expect(cleaned.provisionState).toBe(states.MANAGEABLE);
    // tear_down_cleaning powers off unless the node carries a clean failure to look at.
    expect(conductor.store.getNode(node.uuid).powerState).toBe(states.POWER_OFF);
  });
});
