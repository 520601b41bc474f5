/**
 * The SQLite node store: a conductor stopped mid-clean and started again on the same file
 * (and port) picks the node up from CLEANWAIT at the agent's next heartbeat and finishes;
 * nodes stuck in a *ING state fail at start-up; locks and get_nodeinfo_list filters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { Conductor } from '../../src/conductor/conductor.js';
import { NodeLocked } from '../../src/conductor/errors.js';
import { states } from '../../src/conductor/states.js';
import { SqliteNodeStore } from '../../src/conductor/store/sqlite-store.js';
import { TaskManager } from '../../src/conductor/task.js';
import { type ConductorLab, conductorTest as it } from './conductor-lab.js';
import { enrollHostNode, FAST_CONF, waitFor, waitForState } from './helpers.js';

/** A database file in a directory removed after the test. */
function dbFile(lab: ConductorLab): string {
  const dir = mkdtempSync(join(tmpdir(), 'conductor-store-'));
  lab.defer(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'nodes.sqlite');
}

describe('a conductor restart', () => {
  it('resumes a clean that was waiting on the agent when the conductor stopped', async ({ lab }) => {
    const dbPath = dbFile(lab);
    const first = await lab.start({ dbPath });
    const node = await enrollHostNode(first.conductor);
    await first.conductor.provision(node.uuid, 'manage');
    await first.conductor.provision(node.uuid, 'clean', {
      cleanSteps: [
        { interface: 'deploy', step: 'fixture_slow', args: { seconds: 1.5 } },
        { interface: 'deploy', step: 'fixture_quick' },
      ],
    });
    const port = Number(new URL(first.url).port);
    const agent = await lab.agent();
    await waitFor('the slow step to run', () => {
      const n = first.conductor.store.getNode(node.uuid);
      return n.provisionState === states.CLEANWAIT && (n.cleanStep as { step?: string } | null)?.step === 'fixture_slow';
    });

    // Stop the conductor while the agent works, and start a new one on the same file and port.
    await first.close();
    const { conductor: second } = await lab.start({ dbPath, port });
    expect(second.store.getNode(node.uuid).provisionState).toBe(states.CLEANWAIT);

    const done = await waitForState(second, node.uuid, [states.MANAGEABLE, states.CLEANFAIL], 40_000);
    expect(done.lastError).toBeNull();
    expect(done.provisionState).toBe(states.MANAGEABLE);
    // Both steps ran on the agent, the second one started by the new conductor.
    const commands = JSON.parse(agent.runner.listBody().toString()).commands as Array<{
      command_name: string;
      command_result: any;
    }>;
    const ran = commands.filter((c) => c.command_name === 'execute_clean_step').map((c) => c.command_result?.clean_step?.step);
    expect(ran).toEqual(['fixture_slow', 'fixture_quick']);
  });

  it('fails nodes left in CLEANING or DEPLOYING by a crash, and frees their locks', async ({ lab }) => {
    const dbPath = dbFile(lab);
    const store = new SqliteNodeStore(dbPath);
    const crashed = new Conductor({ store, conf: FAST_CONF });
    const node = crashed.createNode({ automatedClean: false });
    const stuck = store.getNode(node.uuid);
    stuck.provisionState = states.CLEANING;
    store.saveNode(stuck);
    store.reserveNode(node.uuid, FAST_CONF.host!);
    store.close();

    const store2 = new SqliteNodeStore(dbPath);
    const restarted = new Conductor({ store: store2, conf: FAST_CONF });
    await restarted.start();
    const after = store2.getNode(node.uuid);
    expect(after.provisionState).toBe(states.CLEANFAIL);
    expect(after.reserved).toBeNull();
    expect(after.lastError).toBe("The cleaning state can't be resumed by conductor test-conductor. Moving to fail state.");
    await restarted.stop();
    store2.close();
  });

  it('fails a node left in DELETING (an undeploy cut short) to ERROR, from where it can be undeployed again', async ({ lab }) => {
    const dbPath = dbFile(lab);
    const store = new SqliteNodeStore(dbPath);
    const crashed = new Conductor({ store, conf: FAST_CONF });
    const node = crashed.createNode({ automatedClean: false });
    const stuck = store.getNode(node.uuid);
    stuck.provisionState = states.DELETING;
    stuck.targetProvisionState = states.AVAILABLE;
    store.saveNode(stuck);
    store.reserveNode(node.uuid, FAST_CONF.host!);
    store.close();

    const { conductor } = await lab.start({ dbPath });
    const after = conductor.store.getNode(node.uuid);
    expect(after.provisionState).toBe(states.ERROR);
    expect(after.reserved).toBeNull();
    expect(after.lastError).toBe("The deleting state can't be resumed by conductor test-conductor. Moving to fail state.");
    await conductor.provision(node.uuid, 'undeploy');
    const done = await waitForState(conductor, node.uuid, states.AVAILABLE);
    expect(done.powerState).toBe(states.POWER_OFF);
  });
});

describe('locks and filters', () => {
  it('an exclusive task reserves the node; a second one gets NodeLocked; upgradeLock takes it', async () => {
    const store = new SqliteNodeStore(':memory:');
    const conductor = new Conductor({ store, conf: FAST_CONF });
    const node = conductor.createNode({});
    const holder = await TaskManager.acquire(conductor, node.uuid, { purpose: 'test' });
    expect(store.getNode(node.uuid).reserved).toBe(FAST_CONF.host);
    await expect(TaskManager.acquire(conductor, node.uuid, { retry: false })).rejects.toBeInstanceOf(NodeLocked);
    const shared = await TaskManager.acquire(conductor, node.uuid, { shared: true });
    await expect(shared.upgradeLock({ retry: false })).rejects.toThrow(/is locked by host/);
    holder.release();
    expect(store.getNode(node.uuid).reserved).toBeNull();
    await shared.upgradeLock();
    expect(shared.shared).toBe(false);
    expect(store.getNode(node.uuid).reserved).toBe(FAST_CONF.host);
    shared.release();
    expect(store.getNode(node.uuid).reserved).toBeNull();
    store.close();
  });

  it('filters get_nodeinfo_list in the database and loads only the asked-for fields', () => {
    const store = new SqliteNodeStore(':memory:');
    const a = store.createNode({ name: 'a' });
    const b = store.createNode({ name: 'b' });
    const c = store.createNode({ name: 'c' });
    for (const [n, state] of [
      [a, states.CLEANWAIT],
      [b, states.CLEANFAIL],
      [c, states.ACTIVE],
    ] as const) {
      const node = store.getNode(n.uuid);
      node.provisionState = state;
      node.provisionUpdatedAt = new Date(Date.now() - 120_000).toISOString();
      node.driverInternalInfo.in_my_action = n === b;
      store.saveNode(node);
    }
    store.reserveNode(a.uuid, 'someone');
    const rows = store.getNodeinfoList({
      fields: ['driverInternalInfo'],
      filters: { reserved: false, provisionStateIn: [states.CLEANWAIT, states.CLEANFAIL] },
    });
    expect(rows).toEqual([{ uuid: b.uuid, driver: 'fake-hardware', driverInternalInfo: { in_my_action: true } }]);
    expect(
      store.getNodeinfoList({ filters: { provisionState: states.ACTIVE, provisionedBefore: 60 } }).map((r) => r.uuid),
    ).toEqual([c.uuid]);
    expect(store.getNodeinfoList({ filters: { provisionedBefore: 600 } })).toEqual([]);
    expect(store.getNodeinfoList({ filters: { reserved: true } }).map((r) => r.uuid)).toEqual([a.uuid]);
    expect(store.getNodeinfoList({ filters: { maintenance: true } })).toEqual([]);
    store.close();
  });
});
