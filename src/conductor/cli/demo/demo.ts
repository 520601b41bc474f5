/**
 * `ramdisk-agent demo` (`make demo`): provisions a pretend machine on this computer, end to
 * end, in plain words. A real conductor and a real agent talk over HTTP on 127.0.0.1; the
 * agent may only touch two scratch disks the demo creates (sparse files, loop devices when
 * root). Automated cleaning erases them with live progress, a generated whole-disk image is
 * deployed over HTTP with its sha256 checked, and the demo proves it landed byte-exact.
 * Everything it made is removed at the end, also on Ctrl-C. Each numbered phase is one
 * function below, in the order the demo runs them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConductorApiClient } from '../api-client.js';
import { enrollNode, localMacs } from '../conductor-command.js';
import { startConductorService, type ServingConductor } from '../serve.js';
import { bootDemoAgent } from './demo-agent.js';
import { writeDemoImage } from './demo-image.js';
import { DemoSession } from './demo-session.js';
import { isAllZero, sha256OfDevice } from './disk-contents.js';
import { StepFollower } from './follow-steps.js';
import { serveImage } from './image-server.js';
import { createScratchDisks, detachScratchDisk, type ScratchDisk } from './scratch-disks.js';

const DISK_MIB = 64;
const IMAGE_MIB = 16;

async function makeDisks(session: DemoSession): Promise<[ScratchDisk, ScratchDisk]> {
  session.say('1. Two empty disks for the pretend machine');
  const disks = await createScratchDisks(session.dir, 2, DISK_MIB, (disk) =>
    session.cleanup.add(disk.isLoop ? `loop device ${disk.path}` : `disk file ${disk.file}`, () => detachScratchDisk(disk)),
  );
  for (const disk of disks) {
    const what = disk.isLoop ? ` (loop device over ${disk.file})` : ' (a plain file: loop devices need root)';
    session.say(`   ${disk.path}  ${DISK_MIB} MiB${what}, holding random "old data"`);
  }
  return disks as [ScratchDisk, ScratchDisk];
}

async function startConductor(session: DemoSession): Promise<ServingConductor> {
  session.say();
  session.say('2. The conductor: it decides what happens to the machine (like OpenStack Ironic)');
  const service = await startConductorService({
    host: '127.0.0.1',
    port: 0,
    dbPath: join(session.dir, 'conductor.sqlite'),
    logLevel: 'info',
    logFile: join(session.dir, 'conductor.log'),
    conf: {
      // Agents heartbeat every 0.3-0.6 s instead of every few minutes.
      api: { ramdiskHeartbeatTimeout: 1 },
      // The demo image has no bootloader, so deploy it as a BIOS machine (no EFI install).
      deploy: { defaultBootMode: 'bios' },
      agent: { postDeployGetPowerStateRetries: 1, postDeployGetPowerStateRetryInterval: 0.5 },
    },
  });
  session.cleanup.add('the conductor', () => service.close());
  session.say(`   listening on ${service.url}, nodes kept in ${join(session.dir, 'conductor.sqlite')}`);
  return service;
}

async function enroll(session: DemoSession, client: ConductorApiClient, target: ScratchDisk): Promise<string> {
  session.say();
  session.say('3. Enroll the machine as a node');
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
  session.say(`   node ${uuid} ("demo-node"), ports ${macs.join(', ')}`);
  session.say(`   the image will go to ${target.path} (root device hint); state: ${node.provision_state}`);
  session.say(
    `   same as: ramdisk-agent conductor enroll --name demo-node --property root_device='{"name":"${target.path}"}' --driver-info fast_track=true`,
  );
  return uuid;
}

async function bootAgent(session: DemoSession, service: ServingConductor, uuid: string, disks: ScratchDisk[]) {
  session.say();
  session.say('4. Boot the agent on the machine (here: a process on this computer)');
  const store = service.conductor.store;
  const agentUrl = await bootDemoAgent(session, {
    conductorUrl: service.url,
    disks,
    agentUrlOf: () => store.getNode(uuid).driverInternalInfo.agent_url,
  });
  session.say(
    `   the agent found its node by MAC address, got its one-time token, and heartbeats from ${agentUrl}  (${session.elapsed()})`,
  );
  if (agentUrl.startsWith('https:'))
    session.say(
      '   (its API is HTTPS with a self-signed certificate it sent along with its heartbeat; the conductor verifies it)',
    );
}

async function clean(session: DemoSession, client: ConductorApiClient, steps: StepFollower, uuid: string, disks: ScratchDisk[]) {
  session.say();
  session.say('5. Automated cleaning: erase everything the previous tenant left');
  session.say(`   same as: ramdisk-agent conductor clean ${uuid} --wait`);
  await client.setProvisionState(uuid, 'provide');
  const cleaned = await steps.follow(uuid, 'clean');
  if (cleaned.provisionState !== 'available') throw new Error(`cleaning failed: ${cleaned.lastError}`);
  const erased = disks.map((d) => `${d.path} ${isAllZero(d.path) ? 'all zeros' : 'NOT all zeros'}`);
  session.say(`   cleaning done, the node is "available"; ${erased.join(', ')}  (${session.elapsed()})`);
}

/** Deploys the demo image; returns it and driver_internal_info as it was while write_image ran. */
async function deploy(session: DemoSession, client: ConductorApiClient, steps: StepFollower, uuid: string) {
  session.say();
  session.say('6. Deploy an operating system image');
  const image = writeDemoImage(join(session.dir, 'demo-os.img'), IMAGE_MIB);
  const server = await serveImage(image.file);
  session.cleanup.add('the image web server', () => server.close());
  session.say(
    `   a ${IMAGE_MIB} MiB whole-disk image (MBR + one partition of random data), sha256 ${image.sha256.slice(0, 16)}…`,
  );
  session.say(`   served at ${server.url}`);
  session.say(
    `   same as: ramdisk-agent conductor deploy ${uuid} --image ${server.url} --os-hash sha256:${image.sha256.slice(0, 12)}… --wait`,
  );
  await client.patchNode(uuid, [
    { op: 'add', path: '/instance_info/image_source', value: server.url },
    { op: 'add', path: '/instance_info/image_os_hash_algo', value: 'sha256' },
    { op: 'add', path: '/instance_info/image_os_hash_value', value: image.sha256 },
  ]);
  await client.setProvisionState(uuid, 'active');
  let whileWriting: Record<string, any> | undefined;
  const deployed = await steps.follow(uuid, 'deploy', async (id) => {
    if (id === 'deploy.write_image') whileWriting = await client.getNode(uuid, ['driver_internal_info']);
  });
  if (deployed.provisionState !== 'active') throw new Error(`deployment failed: ${deployed.lastError}`);
  session.say(`   deployed: the node is "active" and powered on  (${session.elapsed()})`);
  return { image, whileWriting: (whileWriting?.driver_internal_info ?? {}) as Record<string, unknown> };
}

function showRecordedSteps(session: DemoSession, uuid: string, dii: Record<string, unknown>): void {
  const say = session.say;
  say();
  say(
    `7. What the conductor recorded while writing the image (ramdisk-agent conductor node show ${uuid} -f json -c driver_internal_info):`,
  );
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
}

/** True when the target holds the image byte-exact and zeros after it. */
function proveImageLanded(
  session: DemoSession,
  image: { sha256: string; sizeBytes: number },
  target: ScratchDisk,
  other: ScratchDisk,
): boolean {
  const say = session.say;
  say();
  say('8. Did the image land byte-exact?');
  const written = sha256OfDevice(target.path, image.sizeBytes);
  const exact = written.sha256 === image.sha256;
  say(`   image         sha256 ${image.sha256}`);
  say(`   ${target.path.padEnd(13)} sha256 ${written.sha256} (first ${IMAGE_MIB} MiB)`);
  const restMiB = (written.total - image.sizeBytes) / 1024 / 1024;
  say(
    `   ${exact ? 'identical' : 'DIFFERENT'}; the remaining ${restMiB} MiB of ${target.path} are ${written.restIsZero ? 'zeros (erased during cleaning)' : 'NOT zeros'}`,
  );
  say(`   ${other.path} ${isAllZero(other.path) ? 'is all zeros: erased, and nothing was deployed there' : 'is NOT all zeros'}`);
  return exact && written.restIsZero;
}

function explainFailure(session: DemoSession, error: Error): void {
  session.say();
  session.say(`The demo stopped: ${error.message}`);
  if (session.interrupted) return;
  session.say(`Logs: ${join(session.dir, 'conductor.log')} and ${join(session.dir, 'agent.log')} (printed below, then removed).`);
  for (const name of ['conductor.log', 'agent.log']) {
    try {
      const text = readFileSync(join(session.dir, name), 'utf8').trim().split('\n').slice(-30);
      session.say(`--- last lines of ${name}`);
      for (const line of text) session.say(line);
    } catch {
      // no log yet
    }
  }
}

export async function runDemo(out: NodeJS.WriteStream = process.stdout): Promise<number> {
  const session = new DemoSession(out);
  session.say('ramdisk-agent demo: provision a pretend machine on this computer, start to finish.');
  session.say('Nothing outside a scratch folder is touched; everything is removed at the end.');
  session.say();
  let ok = false;
  try {
    const [target, other] = await makeDisks(session);
    const service = await startConductor(session);
    const client = new ConductorApiClient(service.url);
    const uuid = await enroll(session, client, target);
    await bootAgent(session, service, uuid, [target, other]);
    const steps = new StepFollower(session, service.conductor.store, service.conductor.conf.agent);
    await clean(session, client, steps, uuid, [target, other]);
    const { image, whileWriting } = await deploy(session, client, steps, uuid);
    showRecordedSteps(session, uuid, whileWriting);
    ok = proveImageLanded(session, image, target, other);
    session.say();
    session.say(
      ok
        ? `Done in ${session.elapsed()}: enrolled, cleaned, deployed and verified.`
        : `Finished in ${session.elapsed()}, but the image did not land as expected.`,
    );
  } catch (error) {
    explainFailure(session, error as Error);
  } finally {
    await session.close();
  }
  if (session.interrupted) return 130;
  return ok ? 0 : 1;
}
