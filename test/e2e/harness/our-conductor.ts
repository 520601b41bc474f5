/**
 * Our conductor module as the scenarios run it: serving its API on the port the guest reaches
 * through guestfwd (as `ramdisk-agent conductor serve`), and its CLI as a user types it.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runConductorCommand } from '../../../src/conductor/cli/conductor-command.js';
import { startConductorService, type ServingConductor } from '../../../src/conductor/cli/serve.js';
import type { E2eWorld } from './world.js';

/** Fast track, BIOS boot (the harness boots SeaBIOS), heartbeats every few seconds. */
export function startScenarioConductor(world: E2eWorld, apiPort: number): Promise<ServingConductor> {
  return startConductorService({
    host: '127.0.0.1',
    port: apiPort,
    dbPath: join(world.dir, 'conductor.sqlite'),
    logLevel: 'info',
    logFile: join(world.dir, 'conductor.log'),
    conf: {
      api: { ramdiskHeartbeatTimeout: 10, publicUrl: world.guestApiUrl },
      deploy: { fastTrack: true, defaultBootMode: 'bios' },
      agent: { postDeployGetPowerStateRetries: 12, postDeployGetPowerStateRetryInterval: 5 },
    },
  });
}

/** `ramdisk-agent conductor ARGV... --url URL`; its output, or an error with it when it fails. */
export async function conductorCli(url: string, ...argv: string[]): Promise<string> {
  let out = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      out += String(chunk);
      done();
    },
  });
  const code = await runConductorCommand([...argv, '--url', url], sink);
  if (code !== 0) throw new Error(`ramdisk-agent conductor ${argv[0]} exited ${code}: ${out}`);
  return out;
}
