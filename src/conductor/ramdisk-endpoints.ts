/**
 * The two ramdisk endpoints' conductor side (`GET /v1/lookup`, `POST /v1/heartbeat/{node}`,
 * reference §7): which node an agent is, its one-time token, and handing a heartbeat to the
 * node's deploy interface in a worker that keeps the lock.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IncompleteLookup, InvalidParameterValue, NodeNotFound } from './errors.js';
import type { NodeData } from './node.js';
import { FASTTRACK_LOOKUP_ALLOWED_STATES, LOOKUP_ALLOWED_STATES } from './states.js';
import { TaskManager, type TaskHost, withTask } from './task.js';
import { fastTrackAble } from './utils.js';

export interface HeartbeatParams {
  callbackUrl: string;
  agentToken?: string | null;
  agentVersion?: string | null;
  agentVerifyCa?: string | null;
  agentStatus?: string | null;
  agentStatusMessage?: string | null;
}

/** `GET /v1/lookup`: find the node, check its state, reveal the token once. */
export async function lookupNode(
  host: TaskHost,
  addresses: readonly string[],
  nodeUuid: string | undefined,
): Promise<{ node: NodeData; token: string | null }> {
  if (addresses.length === 0 && !nodeUuid) throw new IncompleteLookup();
  let data: NodeData | undefined;
  if (nodeUuid) {
    try {
      data = host.store.getNode(nodeUuid);
    } catch (error) {
      if (!(error instanceof NodeNotFound)) throw error;
    }
  }
  data ??= host.store.findNodeByAddresses(addresses);
  if (!data) throw new NodeNotFound(nodeUuid ?? addresses.join(','));
  return withTask(host, data.uuid, { purpose: 'getting node with token' }, (task) => {
    const allowed = fastTrackAble(task) ? FASTTRACK_LOOKUP_ALLOWED_STATES : LOOKUP_ALLOWED_STATES;
    if (!allowed.has(task.node.provisionState)) throw new NodeNotFound(task.node.uuid);
    const dii = task.node.driverInternalInfo;
    if (dii.agent_secret_token) return { node: structuredClone(task.node), token: '******' };
    const token = randomBytes(32).toString('base64url');
    dii.agent_secret_token = token;
    delete dii.agent_secret_token_pregenerated;
    task.node.save();
    return { node: structuredClone(task.node), token };
  });
}

/** `POST /v1/heartbeat/{node}`: checks, then the deploy interface's heartbeat in a worker. */
export async function acceptHeartbeat(host: TaskHost, ident: string, params: HeartbeatParams): Promise<void> {
  const data = host.store.getNode(ident);
  const dii = data.driverInternalInfo;
  if (dii.agent_url && dii.agent_url !== params.callbackUrl)
    throw new InvalidParameterValue('Detected change in ramdisk provided "callback_url"');
  if (params.agentToken === undefined || params.agentToken === null)
    throw new InvalidParameterValue('Agent token is required for heartbeat processing.');
  if (params.agentStatus && !['start', 'end', 'error'].includes(params.agentStatus)) {
    throw new InvalidParameterValue('Agent status is invalid. Valid states are start,end,error.');
  }
  if ((params.agentVersion ?? null) === null && (params.agentStatus ?? null) === null) {
    throw new InvalidParameterValue(
      'Agent did not transmit a version, and a version is required. Please update the agent being used.',
    );
  }
  const task = await TaskManager.acquire(host, data.uuid, { shared: true, purpose: 'heartbeat' });
  try {
    const expected = task.node.driverInternalInfo.agent_secret_token;
    if (!expected || expected !== params.agentToken) throw new InvalidParameterValue('Invalid or missing agent token received.');
    const verifyCa = params.agentVerifyCa
      ? storeAgentCertificate(
          host.conf.agent.certificatesPath,
          task.node.uuid,
          params.agentVerifyCa,
          task.node.driverInternalInfo.agent_verify_ca,
        )
      : null;
    task.spawnAfter(
      (t) =>
        t.driver.deploy.heartbeat(t, params.callbackUrl, params.agentVersion ?? null, {
          agentVerifyCa: verifyCa,
          agentStatus: params.agentStatus ?? null,
          agentStatusMessage: params.agentStatusMessage ?? null,
        }) as Promise<void>,
    );
  } finally {
    task.release();
  }
}

/**
 * `store_agent_certificate`: keep the agent's auto-TLS certificate as a file the client
 * verifies against; a different certificate for the same node is refused.
 */
function storeAgentCertificate(dir: string, nodeUuid: string, pem: string, current?: string): string {
  // A recorded certificate (wiped by power actions) must not change under a running agent.
  if (current && existsSync(current)) {
    if (readFileSync(current, 'utf8') !== pem)
      throw new InvalidParameterValue('Detected change in ramdisk provided "agent_verify_ca"');
    return current;
  }
  const file = join(dir, `${nodeUuid}.crt`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, pem, { mode: 0o600 });
  return file;
}
