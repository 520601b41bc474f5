/**
 * Watch a node of our conductor through a clean or a deploy as an operator would: each step
 * as it starts, and the agent's progress (erase per disk, image write) as bars.
 */
import { AgentClient } from '../../../src/conductor/agent-client.js';
import { ProgressBars } from '../../../src/conductor/cli/demo/progress-bars.js';
import type { Conductor } from '../../../src/conductor/conductor.js';
import type { NodeData } from '../../../src/conductor/node.js';

const END_STATES = ['available', 'manageable', 'active', 'clean failed', 'deploy failed'];

export async function followNode(
  conductor: Conductor,
  uuid: string,
  options: {
    kind: 'clean' | 'deploy';
    timeoutMs: number;
    say: (line: string) => void;
    onTick?: () => void;
    failure: () => string;
  },
): Promise<NodeData> {
  const bars = new ProgressBars(process.stdout);
  const client = new AgentClient({ ...conductor.conf.agent, commandTimeout: 5, maxCommandAttempts: 1 });
  const deadline = Date.now() + options.timeoutMs;
  let current = '';
  let left = false;
  try {
    for (;;) {
      options.onTick?.();
      const node = conductor.store.getNode(uuid);
      // A deploy starts in "available"; it ends once it has left it.
      left ||= node.provisionState !== 'available';
      const step = (options.kind === 'clean' ? node.cleanStep : node.deployStep) as { interface?: string; step?: string } | null;
      const id = step?.step ? `${step.interface}.${step.step}` : '';
      if (id && id !== current) {
        current = id;
        bars.reset();
        options.say(`step ${id} (${node.provisionState})`);
      }
      const dii = node.driverInternalInfo;
      if (id && dii.agent_url && dii.agent_secret_token) {
        try {
          const commands = await client.getCommandsStatus(node, { retryConnection: false });
          const last = commands[commands.length - 1];
          if (last?.command_status === 'RUNNING' && last.command_progress)
            bars.show(id, last.command_progress as Record<string, unknown>);
        } catch {
          // the agent may be rebooting or powering off: progress is best effort
        }
      }
      if (END_STATES.includes(node.provisionState) && (options.kind === 'clean' || left)) return node;
      if (Date.now() > deadline)
        throw new Error(
          `${options.kind} did not end within ${options.timeoutMs / 1000} s: node is "${node.provisionState}" (last_error: ${node.lastError})\n${options.failure()}`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await client.close();
  }
}
