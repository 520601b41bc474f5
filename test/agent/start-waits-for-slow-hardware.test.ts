// ipa-hardware-initialization-delay: the agent waits after loading its managers, before it
// looks at the hardware or serves anything, as IPA does for slow RAID drivers.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { mergeConfig } from '../../src/agent/config/load.js';

let agent: RunningAgent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

describe('hardware initialization delay', () => {
  it('logs IPA’s message and waits that long before the API is up', async () => {
    const waitingLogged: number[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          if ((JSON.parse(line) as { msg?: string }).msg === 'Waiting 0.5 seconds before proceeding') {
            waitingLogged.push(Date.now());
          }
        }
        done();
      },
    });
    const config = mergeConfig({
      kernel: { hardwareInitializationDelay: 0.5 },
      flags: { standalone: true, agentToken: 'test-token-0123456789abcdef0123456789', listenHost: '127.0.0.1', listenPort: 0 },
    });
    agent = await startAgent({ config, logger: { level: 'info', stream } as never });
    const up = Date.now();
    expect(waitingLogged).toHaveLength(1);
    expect(up - waitingLogged[0]!).toBeGreaterThanOrEqual(450);
  });
});
