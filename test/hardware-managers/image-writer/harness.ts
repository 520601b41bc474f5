/** Shared setup of the image-writer tests: a real agent allowed exactly the test's loop devices, and the write_image call as Ironic makes it. */
import type { RunningAgent } from '../../../src/agent/agent.js';
import type { AgentConfigInput } from '../../../src/agent/config/schema.js';
import { AgentTestClient, startTestAgent } from '../../helpers/agent.js';

export interface ImageAgent {
  agent: RunningAgent;
  client: AgentTestClient;
}

export async function startImageAgent(devices: string[], overrides: Partial<AgentConfigInput> = {}): Promise<ImageAgent> {
  const agent = await startTestAgent({
    allowDevices: devices,
    imageDownloadConnectionRetries: 2,
    imageDownloadConnectionRetryInterval: 0.05,
    imageDownloadConnectionTimeout: 5,
    ...overrides,
  });
  return { agent, client: new AgentTestClient(agent.url) };
}

export interface StepOutcome {
  status: string;
  body: any;
  /** Every `command_progress` seen while the command ran. */
  progress: any[];
}

/** `deploy.execute_deploy_step` with Ironic's write_image step, polled to the end. */
export async function runWriteImage(
  client: AgentTestClient,
  imageInfo: Record<string, unknown>,
  options: { configdrive?: string | null; node?: Record<string, unknown> } = {},
): Promise<StepOutcome> {
  const started = await client.post('deploy.execute_deploy_step', {
    step: { interface: 'deploy', step: 'write_image', args: { image_info: imageInfo, configdrive: options.configdrive ?? null } },
    node: {
      uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
      properties: {},
      instance_info: {},
      driver_internal_info: {},
      ...options.node,
    },
    ports: [],
  });
  if (started.status !== 200) throw new Error(`write_image not started: ${started.status} ${JSON.stringify(started.body)}`);
  const progress: any[] = [];
  const body = await client.waitFor(started.body.id, (b) => {
    if (b.command_progress) progress.push(b.command_progress);
  });
  return { status: body.command_status, body, progress };
}

export function imageInfo(url: string, sha256: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: url.split('/').pop(),
    urls: [url],
    disk_format: 'raw',
    container_format: 'bare',
    stream_raw_images: true,
    os_hash_algo: 'sha256',
    os_hash_value: sha256,
    node_uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
    ...extra,
  };
}
