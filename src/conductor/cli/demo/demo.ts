/**
 * `ramdisk-agent demo` (`make demo`): provisions a pretend machine on this computer, end to
 * end, in plain words. A real conductor and a real agent talk over HTTP on 127.0.0.1; the
 * agent may only touch two scratch disks the demo creates (sparse files, loop devices when
 * root). Automated cleaning erases them with live progress, a generated whole-disk image is
 * deployed over HTTP with its sha256 checked, and the demo proves it landed byte-exact.
 * Everything it made is removed at the end, also on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../../agent-client.js';
import { ConductorApiClient } from '../api-client.js';
import { enrollNode, localMacs } from '../conductor-command.js';
import { startConductorService, type ServingConductor } from '../serve.js';
import { writeDemoImage } from './demo-image.js';
import { serveImage, type ImageServer } from './image-server.js';
import { ProgressBars } from './progress-bars.js';
import { createScratchDisks, detachScratchDisk, type ScratchDisk } from './scratch-disks.js';

const DISK_MIB = 64;
const IMAGE_MIB = 16;
const DEADLINE_MS = 120_000;

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

class Cleanup {
  readonly #actions: Array<{ what: string; run: () => Promise<void> | void }> = [];
  add(what: string, run: () => Promise<void> | void): void {
    this.#actions.push({ what, run });
  }
  async runAll(say: (line: string) => void): Promise<void> {
    for (const { what, run } of this.#actions.splice(0).reverse()) {
      try {
        await run();
        say(`      removed ${what}`);
      } catch (error) {
        say(`      could not remove ${what}: ${(error as Error).message}`);
      }
    }
  }
}

function sha256OfDevice(path: string, length: number): { sha256: string; restIsZero: boolean; total: number } {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(1024 * 1024);
    let offset = 0;
    while (offset < length) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, length - offset), offset);
      if (n <= 0) break;
      hash.update(buffer.subarray(0, n));
      offset += n;
    }
    let restIsZero = true;
    let total = offset;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, total);
      if (n <= 0) break;
      if (restIsZero && buffer.subarray(0, n).some((b) => b !== 0)) restIsZero = false;
      total += n;
    }
    return { sha256: hash.digest('hex'), restIsZero, total };
  } finally {
    closeSync(fd);
  }
}

function isAllZero(path: string): boolean {
  return sha256OfDevice(path, 0).restIsZero;
}

function startAgentProcess(options: { conductorUrl: string; disks: ScratchDisk[]; dir: string }): ChildProcess {
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell which script to start the agent with');
  const cmdline = join(options.dir, 'kernel-cmdline');
  writeFileSync(cmdline, '\n');
  const log = openSync(join(options.dir, 'agent.log'), 'a');
  const args = [
    ...process.execArgv,
    script,
    'agent',
    '--api-url',
    options.conductorUrl,
    '--listen',
    '127.0.0.1:0',
    '--advertise-host',
    '127.0.0.1',
    '--power-actions',
    'simulate',
    '--cmdline',
    cmdline,
    '--log-level',
    'info',
    ...options.disks.flatMap((d) => ['--allow-device', d.path]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', log, log], detached: false });
  closeSync(log);
  return child;
}

export async function runDemo(out: NodeJS.WriteStream = process.stdout): Promise<number> {
  const started = Date.now();
  // A reader that goes away (`make demo | head`) must stop the demo the way Ctrl-C does,
  // cleanup included, instead of crashing on EPIPE and leaving loop devices attached.
  let outputClosed = false;
  const onOutputError = () => {
    outputClosed = true;
    interrupted = true;
  };
  out.on('error', onOutputError);
  const say = (line = '') => {
    if (!outputClosed) out.write(`${line}\n`);
  };
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const cleanup = new Cleanup();
  const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-demo-'));
  cleanup.add(`the scratch folder ${dir}`, () => rmSync(dir, { recursive: true, force: true }));

  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const checkInterrupted = () => {
    if (interrupted) throw new Error('interrupted (Ctrl-C)');
    if (Date.now() - started > DEADLINE_MS) throw new Error(`the demo took longer than ${DEADLINE_MS / 1000} s`);
  };
  const sleep = async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    checkInterrupted();
  };

  say('ramdisk-agent demo: provision a pretend machine on this computer, start to finish.');
  say('Nothing outside a scratch folder is touched; everything is removed at the end.');
  say();
  let service: ServingConductor | undefined;
  let imageServer: ImageServer | undefined;
  let agent: ChildProcess | undefined;
  let ok = false;
  try {
    // 1 ------------------------------------------------------------------ disks
    say('1. Two empty disks for the pretend machine');
    const disks = await createScratchDisks(dir, 2, DISK_MIB, (disk) =>
      cleanup.add(disk.isLoop ? `loop device ${disk.path}` : `disk file ${disk.file}`, () => detachScratchDisk(disk)),
    );
    for (const disk of disks) {
      say(
        `   ${disk.path}  ${DISK_MIB} MiB${disk.isLoop ? ` (loop device over ${disk.file})` : ' (a plain file: loop devices need root)'}, holding random "old data"`,
      );
    }
    const [target, other] = disks as [ScratchDisk, ScratchDisk];

    // 2 ------------------------------------------------------------------ conductor
    say();
    say('2. The conductor: it decides what happens to the machine (like OpenStack Ironic)');
    service = await startConductorService({
      host: '127.0.0.1',
      port: 0,
      dbPath: join(dir, 'conductor.sqlite'),
      logLevel: 'info',
      logFile: join(dir, 'conductor.log'),
      conf: {
        // Agents heartbeat every 0.3-0.6 s instead of every few minutes.
        api: { ramdiskHeartbeatTimeout: 1 },
        // The demo image has no bootloader, so deploy it as a BIOS machine (no EFI install).
        deploy: { defaultBootMode: 'bios' },
        agent: { postDeployGetPowerStateRetries: 1, postDeployGetPowerStateRetryInterval: 0.5 },
      },
    });
    const conductorService = service;
    cleanup.add('the conductor', () => conductorService.close());
    say(`   listening on ${service.url}, nodes kept in ${join(dir, 'conductor.sqlite')}`);
    const client = new ConductorApiClient(service.url);

    // 3 ------------------------------------------------------------------ enroll
    say();
    say('3. Enroll the machine as a node');
    const macs = localMacs();
    if (macs.length === 0)
      throw new Error('this computer has no network interface with a MAC address; the agent could not find its node');
    const node = await enrollNode(client, {
      name: 'demo-node',
      macs,
      deployInterface: 'direct',
      properties: { root_device: { name: target.path } },
      // Fast track (Ironic's [deploy]fast_track): the agent stays up between cleaning and
      // deploying instead of being rebooted in between.
      driverInfo: { fast_track: true },
    });
    const uuid = node.uuid as string;
    await client.request('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' });
    say(`   node ${uuid} ("demo-node"), ports ${macs.join(', ')}`);
    say(`   the image will go to ${target.path} (root device hint); state: ${node.provision_state}`);
    say(
      `   same as: ramdisk-agent conductor enroll --name demo-node --property root_device='{"name":"${target.path}"}' --driver-info fast_track=true`,
    );

    // 4 ------------------------------------------------------------------ agent
    say();
    say('4. Boot the agent on the machine (here: a process on this computer)');
    agent = startAgentProcess({ conductorUrl: service.url, disks, dir });
    const agentProcess = agent;
    cleanup.add(`the agent (pid ${agent.pid})`, async () => {
      if (agentProcess.exitCode === null && agentProcess.signalCode === null) {
        agentProcess.kill('SIGTERM');
        await new Promise((r) => {
          const timer = setTimeout(() => {
            agentProcess.kill('SIGKILL');
            r(undefined);
          }, 5000);
          agentProcess.once('exit', () => {
            clearTimeout(timer);
            r(undefined);
          });
        });
      }
    });
    say(`   pid ${agent.pid}; it may write only ${disks.map((d) => d.path).join(' and ')}; power actions are simulated`);
    const store = service.conductor.store;
    while (!store.getNode(uuid).driverInternalInfo.agent_url) {
      if (agent.exitCode !== null) throw new Error(`the agent exited (code ${agent.exitCode}); see ${join(dir, 'agent.log')}`);
      await sleep(100);
    }
    const agentUrl = String(store.getNode(uuid).driverInternalInfo.agent_url);
    say(`   the agent found its node by MAC address, got its one-time token, and heartbeats from ${agentUrl}  (${elapsed()})`);
    if (agentUrl.startsWith('https:'))
      say('   (its API is HTTPS with a self-signed certificate it sent along with its heartbeat; the conductor verifies it)');

    const bars = new ProgressBars(out);
    const progressClient = new AgentClient({ ...service.conductor.conf.agent, commandTimeout: 2, maxCommandAttempts: 1 });
    cleanup.add('the progress reader', () => progressClient.close());
    type StepDict = { interface?: string; step?: string; priority?: number };
    const describeStep = (step: StepDict, note: string) =>
      say(
        `   - ${step.interface}.${step.step} (priority ${step.priority}): ${STEP_WORDS[`${step.interface}.${step.step}`] ?? "a step of the node's driver"}  (${note})`,
      );
    const follow = async (kind: 'clean' | 'deploy', onStep?: (step: string) => Promise<void>) => {
      let current = '';
      let lastIndex = -1;
      let list: StepDict[] = [];
      // Steps can finish between two looks: print those too, in order.
      const catchUp = (upTo: number) => {
        for (let j = lastIndex + 1; j < upTo && j < list.length; j++) describeStep(list[j]!, 'finished between two looks');
      };
      for (;;) {
        const n = store.getNode(uuid);
        const dii = n.driverInternalInfo;
        const steps = dii[kind === 'clean' ? 'clean_steps' : 'deploy_steps'] as StepDict[] | null | undefined;
        if (Array.isArray(steps) && steps.length > 0) list = steps;
        const step = (kind === 'clean' ? n.cleanStep : n.deployStep) as StepDict | null;
        const index = dii[kind === 'clean' ? 'clean_step_index' : 'deploy_step_index'] as number | null | undefined;
        const id = step?.step ? `${step.interface}.${step.step}` : '';
        if (id && id !== current && typeof index === 'number') {
          catchUp(index);
          current = id;
          lastIndex = index;
          bars.reset();
          describeStep(step!, elapsed());
          await onStep?.(id);
        }
        if (id && dii.agent_secret_token && dii.agent_url) {
          try {
            // The operator's view: the agent's command list, read as the conductor reads it
            // (token, and the agent's own TLS certificate).
            const commands = await progressClient.getCommandsStatus(n, { retryConnection: false });
            const last = commands[commands.length - 1];
            // The running command, or the one that just finished this very step (its 100%).
            const finishedStep = (last?.command_result?.[`${kind}_step`] as { step?: string } | undefined)?.step;
            const forThisStep =
              last?.command_status === 'RUNNING' || (finishedStep !== undefined && id.endsWith(`.${finishedStep}`));
            if (last?.command_progress && forThisStep) bars.show(id, last.command_progress as Record<string, unknown>);
          } catch {
            // the agent may be powering off; progress is best effort
          }
        }
        const ended =
          ['available', 'manageable', 'active', 'clean failed', 'deploy failed'].includes(n.provisionState) &&
          !(kind === 'deploy' && n.provisionState === 'available');
        if (ended) {
          if (!n.provisionState.endsWith('failed')) catchUp(list.length);
          return n;
        }
        await sleep(150);
      }
    };

    // 5 ------------------------------------------------------------------ clean
    say();
    say('5. Automated cleaning: erase everything the previous tenant left');
    say(`   same as: ramdisk-agent conductor clean ${uuid} --wait`);
    await client.setProvisionState(uuid, 'provide');
    const cleaned = await follow('clean');
    if (cleaned.provisionState !== 'available') throw new Error(`cleaning failed: ${cleaned.lastError}`);
    const erased = disks.map((d) => `${d.path} ${isAllZero(d.path) ? 'all zeros' : 'NOT all zeros'}`);
    say(`   cleaning done, the node is "available"; ${erased.join(', ')}  (${elapsed()})`);

    // 6 ------------------------------------------------------------------ deploy
    say();
    say('6. Deploy an operating system image');
    const image = writeDemoImage(join(dir, 'demo-os.img'), IMAGE_MIB);
    imageServer = await serveImage(image.file);
    const server = imageServer;
    cleanup.add('the image web server', () => server.close());
    say(`   a ${IMAGE_MIB} MiB whole-disk image (MBR + one partition of random data), sha256 ${image.sha256.slice(0, 16)}…`);
    say(`   served at ${imageServer.url}`);
    say(
      `   same as: ramdisk-agent conductor deploy ${uuid} --image ${imageServer.url} --os-hash sha256:${image.sha256.slice(0, 12)}… --wait`,
    );
    await client.patchNode(uuid, [
      { op: 'add', path: '/instance_info/image_source', value: imageServer.url },
      { op: 'add', path: '/instance_info/image_os_hash_algo', value: 'sha256' },
      { op: 'add', path: '/instance_info/image_os_hash_value', value: image.sha256 },
    ]);
    await client.setProvisionState(uuid, 'active');
    let snapshot: Record<string, any> | undefined;
    const deployed = await follow('deploy', async (id) => {
      if (id === 'deploy.write_image') snapshot = await client.getNode(uuid, ['driver_internal_info']);
    });
    if (deployed.provisionState !== 'active') throw new Error(`deployment failed: ${deployed.lastError}`);
    say(`   deployed: the node is "active" and powered on  (${elapsed()})`);

    // 7 ------------------------------------------------------------------ show
    say();
    say(
      `7. What the conductor recorded while writing the image (ramdisk-agent conductor node show ${uuid} -f json -c driver_internal_info):`,
    );
    const dii = snapshot?.driver_internal_info ?? {};
    const steps = (dii.deploy_steps ?? []) as unknown[];
    say('   {');
    say('     "driver_internal_info": {');
    say('       ...');
    say('       "deploy_steps": [');
    steps.forEach((step, i) => say(`         ${JSON.stringify(step)}${i < steps.length - 1 ? ',' : ''}`));
    say('       ],');
    say(`       "deploy_step_index": ${JSON.stringify(dii.deploy_step_index)}`);
    say('     }');
    say('   }');
    say('   (deploy_step_index 1 = write_image was running; once deployed, the conductor clears both, as Ironic does)');

    // 8 ------------------------------------------------------------------ proof
    say();
    say('8. Did the image land byte-exact?');
    const written = sha256OfDevice(target.path, image.sizeBytes);
    const exact = written.sha256 === image.sha256;
    say(`   image         sha256 ${image.sha256}`);
    say(`   ${target.path.padEnd(13)} sha256 ${written.sha256} (first ${IMAGE_MIB} MiB)`);
    say(
      `   ${exact ? 'identical' : 'DIFFERENT'}; the remaining ${(written.total - image.sizeBytes) / 1024 / 1024} MiB of ${target.path} are ${written.restIsZero ? 'zeros (erased during cleaning)' : 'NOT zeros'}`,
    );
    say(
      `   ${other.path} ${isAllZero(other.path) ? 'is all zeros: erased, and nothing was deployed there' : 'is NOT all zeros'}`,
    );
    ok = exact && written.restIsZero;
    say();
    say(
      ok
        ? `Done in ${elapsed()}: enrolled, cleaned, deployed and verified.`
        : `Finished in ${elapsed()}, but the image did not land as expected.`,
    );
  } catch (error) {
    say();
    say(`The demo stopped: ${(error as Error).message}`);
    if (!interrupted) say(`Logs: ${join(dir, 'conductor.log')} and ${join(dir, 'agent.log')} (printed below, then removed).`);
    for (const name of interrupted ? [] : ['conductor.log', 'agent.log']) {
      try {
        const { readFileSync } = await import('node:fs');
        const text = readFileSync(join(dir, name), 'utf8').trim().split('\n').slice(-30);
        say(`--- last lines of ${name}`);
        for (const line of text) say(line);
      } catch {
        // no log yet
      }
    }
  } finally {
    say();
    say('Cleaning up:');
    await cleanup.runAll(say);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    out.off('error', onOutputError);
  }
  if (interrupted) return 130;
  return ok ? 0 : 1;
}
