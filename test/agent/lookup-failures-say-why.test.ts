/**
 * A lookup the conductor refuses is logged with Ironic's reason, as IPA logs it ("Failed
 * looking up node with addresses ... Check if inspection has completed? Error 404: Node
 * could not be found."). With the status code alone an operator could not tell a node that
 * is not enrolled or not in a state that allows a lookup (404) from a ramdisk that sent no
 * usable MAC (400) or an API whose ramdisk endpoints are turned off (403).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IronicApiClient } from '../../src/agent/heartbeat/ironic-api-client.js';
import { lookupNode } from '../../src/agent/heartbeat/lookup.js';
import { silentLogger, type Logger } from '../../src/hardware/logger.js';
import { FakeConductor } from '../helpers/fake-conductor.js';

let conductor: FakeConductor | undefined;
let client: IronicApiClient | undefined;

afterEach(async () => {
  await client?.close();
  await conductor?.close();
  client = conductor = undefined;
});

/** The warnings a lookup logs. */
function recordingLogger(warnings: string[]): Logger {
  const log: Logger = {
    ...silentLogger,
    warn: (objOrMsg: object | string, msg?: string) => void warnings.push(typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '')),
    child: () => log,
  };
  return log;
}

describe('a refused lookup', () => {
  it.each([
    ['a node nobody enrolled', ['52:54:00:12:34:56'], 'Error 404: Node could not be found.'],
    [
      'no usable MAC address',
      [],
      "Error 400: Incomplete lookup request: At least one of 'addresses' and 'node_uuid' parameters is required",
    ],
  ])('is logged with the reason Ironic gave: %s', async (_, macs, reason) => {
    conductor = await FakeConductor.start();
    conductor.addNode(['52:54:00:00:00:99']);
    client = new IronicApiClient({ apiUrls: [conductor.url], log: silentLogger, requestTimeoutMs: 5_000 });
    const warnings: string[] = [];
    await expect(
      lookupNode({ client, log: recordingLogger(warnings), addresses: async () => macs, timeout: 0, interval: 0.1 }),
    ).rejects.toMatchObject({ type: 'LookupNodeError' });
    expect(warnings).toContain(
      `Failed looking up node with addresses ${macs.join(',')} at ${conductor.url}/v1/lookup. Check if inspection has completed? ${reason}`,
    );
  });
});
