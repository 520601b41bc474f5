/**
 * Follows a node through its clean or deploy steps as an operator would watch it: each step
 * in plain words as it starts (also those that finished between two looks), and the running
 * agent command's progress read from the agent as the conductor reads it.
 */
import { AgentClient } from '../../agent-client.js';
import type { NodeData } from '../../node.js';
import type { NodeStore } from '../../store/node-store.js';
import type { DemoSession } from './demo-session.js';
import { ProgressBars } from './progress-bars.js';

const STEP_WORDS: Record<string, string> = {
  'deploy.erase_devices_metadata': 'wipe partition tables and filesystem signatures',
  'deploy.erase_devices': 'overwrite every byte of every disk, then check',
  'deploy.deploy': 'make sure the agent is up (fast track: it already is)',
  'deploy.write_image': 'the agent downloads the image, checks its sha256 and writes it',
  'deploy.prepare_instance_boot': 'read the partition layout, set the boot device to disk',
  'deploy.tear_down_agent': 'power the agent ("ramdisk") off',
  'deploy.switch_to_tenant_network': 'move the machine to its tenant network (none here)',
  'deploy.boot_instance': 'power the machine on into its new OS',
};

type StepDict = { interface?: string; step?: string; priority?: number };

const ENDED = ['available', 'manageable', 'active', 'clean failed', 'deploy failed'];

export class StepFollower {
  readonly #bars: ProgressBars;
  readonly #progressClient: AgentClient;

  constructor(
    private readonly session: DemoSession,
    private readonly store: NodeStore,
    agentConf: ConstructorParameters<typeof AgentClient>[0],
  ) {
    this.#bars = new ProgressBars(session.out);
    this.#progressClient = new AgentClient({ ...agentConf, commandTimeout: 2, maxCommandAttempts: 1 });
    session.cleanup.add('the progress reader', () => this.#progressClient.close());
  }

  #describe(step: StepDict, note: string): void {
    const words = STEP_WORDS[`${step.interface}.${step.step}`] ?? "a step of the node's driver";
    this.session.say(`   - ${step.interface}.${step.step} (priority ${step.priority}): ${words}  (${note})`);
  }

  /** Returns the node once its clean or deploy ended (successfully or not). */
  async follow(uuid: string, kind: 'clean' | 'deploy', onStep?: (step: string) => Promise<void>): Promise<NodeData> {
    let current = '';
    let lastIndex = -1;
    let list: StepDict[] = [];
    // Steps can finish between two looks: print those too, in order.
    const catchUp = (upTo: number) => {
      for (let j = lastIndex + 1; j < upTo && j < list.length; j++) this.#describe(list[j]!, 'finished between two looks');
    };
    for (;;) {
      const node = this.store.getNode(uuid);
      const dii = node.driverInternalInfo;
      const steps = dii[kind === 'clean' ? 'clean_steps' : 'deploy_steps'] as StepDict[] | null | undefined;
      if (Array.isArray(steps) && steps.length > 0) list = steps;
      const step = (kind === 'clean' ? node.cleanStep : node.deployStep) as StepDict | null;
      const index = dii[kind === 'clean' ? 'clean_step_index' : 'deploy_step_index'] as number | null | undefined;
      const id = step?.step ? `${step.interface}.${step.step}` : '';
      if (id && id !== current && typeof index === 'number') {
        catchUp(index);
        current = id;
        lastIndex = index;
        this.#bars.reset();
        this.#describe(step!, this.session.elapsed());
        await onStep?.(id);
      }
      if (id && dii.agent_secret_token && dii.agent_url) await this.#showProgress(node, kind, id);
      const ended = ENDED.includes(node.provisionState) && !(kind === 'deploy' && node.provisionState === 'available');
      if (ended) {
        if (!node.provisionState.endsWith('failed')) catchUp(list.length);
        return node;
      }
      await this.session.sleep(150);
    }
  }

  async #showProgress(node: NodeData, kind: 'clean' | 'deploy', id: string): Promise<void> {
    try {
      // The operator's view: the agent's command list, read as the conductor reads it
      // (token, and the agent's own TLS certificate).
      const commands = await this.#progressClient.getCommandsStatus(node, { retryConnection: false });
      const last = commands[commands.length - 1];
      // The running command, or the one that just finished this very step (its 100%).
      const finishedStep = (last?.command_result?.[`${kind}_step`] as { step?: string } | undefined)?.step;
      const forThisStep = last?.command_status === 'RUNNING' || (finishedStep !== undefined && id.endsWith(`.${finishedStep}`));
      if (last?.command_progress && forThisStep) this.#bars.show(id, last.command_progress as Record<string, unknown>);
    } catch {
      // the agent may be powering off; progress is best effort
    }
  }
}
