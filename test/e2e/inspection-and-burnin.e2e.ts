/**
 * In-band inspection and burn-in in the booted ramdisk, one boot: the image built with the
 * burn-in tools (`BURNIN=1 make image`, RAMDISK_AGENT_BURNIN_IMAGE_DIR, default
 * dist/image-burnin), `ipa-inspection-callback-url` on the kernel line naming a host-side
 * inspector (test/helpers/fake-inspector.ts, ironic-inspector's `/v1/continue`) that the guest
 * reaches through guestfwd. Manual cleaning with our conductor powers the machine on; the
 * agent inspects itself first: the host checks what was posted (the disks with the serials
 * QEMU gives them, the NIC's MAC, 2 CPUs, the guest's memory, BIOS boot, no LLDP, SMART data
 * for the SATA and NVMe disks), then it looks up with the node UUID the inspector answered
 * and runs short `burnin_cpu`, `burnin_memory`, `burnin_disk` and `check_disk_health` steps,
 * whose live progress (through the agent's `command_progress`) and reports are checked.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, type AgentCommand } from '../../src/conductor/agent-client.js';
import type { ServingConductor } from '../../src/conductor/cli/serve.js';
import { FakeInspector } from '../helpers/fake-inspector.js';
import { freePort } from '../interop/harness/free-port.js';
import { followNode } from './harness/follow.js';
import { conductorCli, startScenarioConductor } from './harness/our-conductor.js';
import { burninImageDir, checkInspectionPayload } from './harness/inspection-check.js';
import { missingImage } from './harness/image-files.js';
import { E2E_MAC, e2eSkipReason, E2eWorld } from './harness/world.js';
import { GUEST_HOST } from './harness/vm.js';

const PHASE_TIMEOUT_MS = 300_000;
// The burn-in image unpacks to ~270 MiB: in 512 MiB the kernel fails to unpack it ("Initramfs unpacking failed: write error").
const GUEST_RAM_MIB = 1024;
const skip = e2eSkipReason(missingImage(burninImageDir()));
let world: E2eWorld | undefined;
let service: ServingConductor | undefined;
let inspector: FakeInspector | undefined;

const cli = (...argv: string[]) => conductorCli(service!.url, ...argv);

describe.skipIf(skip)(`e2e: inspection and burn-in in the booted ramdisk${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    inspector = await FakeInspector.start();
    const inspectorPort = Number(new URL(inspector.url).port);
    const apiPort = await freePort();
    world = await E2eWorld.create('inspection + burn-in', apiPort, {
      imageDir: burninImageDir(),
      memoryMiB: GUEST_RAM_MIB,
      hostPorts: [inspectorPort],
      kernelParams: [`ipa-inspection-callback-url=http://${GUEST_HOST}:${inspectorPort}/v1/continue`],
    });
    service = await startScenarioConductor(world, apiPort);
  }, 120_000);

  afterAll(async () => {
    await world?.teardown(async () => {
      await service?.close();
      await inspector?.close();
    });
  }, 60_000);

  it(
    'inspects itself through the callback, then runs short burn-in steps with progress and reports',
    { timeout: 1_200_000 },
    async () => {
      const w = world!;
      const t = w.timeline;
      const conductor = service!.conductor;
      const say = (line: string) => t.say(line);
      const failure = () => `${w.failureContext()}\n--- conductor log: ${join(w.dir, 'conductor.log')}`;
      const uuid = (
      await cli(
        'enroll',
        '--name', 'e2e-burnin-vm',
        '--power-interface', 'qemu',
        '--mac', E2E_MAC,
        '--no-automated-clean',
        ...Object.entries(w.vm.driverInfo()).flatMap(([k, v]) => ['--driver-info', `${k}=${JSON.stringify(v)}`]),
      )
    ).trim(); // prettier-ignore
      // The inspector knows the machine by its MAC and answers with the conductor's node.
      inspector!.enroll([E2E_MAC], uuid);

      const steps = [
        { interface: 'deploy', step: 'burnin_cpu', args: { agent_burnin_cpu_timeout: 10 } },
        { interface: 'deploy', step: 'burnin_memory', args: { agent_burnin_vm_timeout: 10, 'agent_burnin_vm_vm-bytes': '32M' } },
        { interface: 'deploy', step: 'burnin_disk', args: { agent_burnin_fio_disk_runtime: 10 } },
        { interface: 'deploy', step: 'check_disk_health', args: {} },
      ];
      const progress = new Map<string, Array<Record<string, unknown>>>();
      const agent = new AgentClient({ ...conductor.conf.agent, commandTimeout: 5, maxCommandAttempts: 1 });
      let lastCommands: AgentCommand[] = [];
      const cleaned = await t.phase(
        'manual cleaning: burnin_cpu, burnin_memory, burnin_disk (10 s each), check_disk_health',
        async () => {
          await cli('clean', uuid, '--steps', JSON.stringify(steps));
          return followNode(conductor, uuid, {
            kind: 'clean',
            timeoutMs: PHASE_TIMEOUT_MS,
            say,
            failure,
            // Progress as the conductor sees it: the agent's command_progress of the running step.
            onTick: () => {
              const node = conductor.store.getNode(uuid);
              const step = (node.cleanStep as { step?: string } | null)?.step;
              if (!step || !node.driverInternalInfo.agent_url) return;
              void agent.getCommandsStatus(node, { retryConnection: false }).then(
                (commands) => {
                  lastCommands = commands;
                  const running = commands.at(-1);
                  if (running?.command_status === 'RUNNING' && running.command_progress)
                    progress.set(step, [...(progress.get(step) ?? []), running.command_progress as Record<string, unknown>]);
                },
                () => undefined,
              );
            },
          });
        },
      );

      expect(cleaned.lastError, failure()).toBeNull();
      expect(cleaned.provisionState).toBe('manageable');
      try {
        const node = conductor.store.getNode(uuid);
        lastCommands = await agent.getCommandsStatus(node, { retryConnection: false });
      } finally {
        await agent.close();
      }
      for (const { step } of steps) {
        const command = lastCommands.find(
          (c) =>
            c.command_name === 'execute_clean_step' &&
            (c.command_result as { clean_step?: { step?: string } } | null)?.clean_step?.step === step,
        );
        expect(command?.command_status, `${step}: ${JSON.stringify(command)}`).toBe('SUCCEEDED');
        const report = (command!.command_result as { clean_result: Record<string, unknown> }).clean_result;
        expect(report, step).toMatchObject({ passed: true });
        const seen = progress.get(step) ?? [];
        say(`${step}: ${seen.length} progress snapshots; report ${JSON.stringify(report).slice(0, 400)}`);
        if (step !== 'check_disk_health') expect(seen.length, `${step} progress`).toBeGreaterThan(0);
      }

      // Inspection happened before the lookup: one post, answered with the node's UUID.
      expect(inspector!.posts.map((p) => [p.path, p.status])).toEqual([['/v1/continue', 200]]);
      say(
        `inspection: ${checkInspectionPayload(inspector!.posts[0]!.body, { mac: E2E_MAC, cpus: 2, memoryMiB: GUEST_RAM_MIB })}`,
      );
    },
  );
});
