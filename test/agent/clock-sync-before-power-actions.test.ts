/**
 * The clock before power_off / run_image, as IPA's `sync_clock`: chronyd (or ntpdate) against
 * `ipa-ntp-server`, then `hwclock --systohc`. A server value that is neither an IP address nor
 * a plain host name is refused as IPA LP#2160050 does, so it cannot add options to chronyd's
 * directive or pass as an ntpdate option; the hardware clock is still written.
 * The programs are answered by the test (nothing here sets this machine's clock).
 */
import { describe, expect, it } from 'vitest';
import { syncClock } from '../../src/agent/clock-sync.js';
import { createFakeStepContext } from '../../src/testing/index.js';

async function sync(ntpServer: string | undefined, tools: string[] = ['chronyd', 'ntpdate', 'hwclock']) {
  const { ctx, execCalls, logs } = createFakeStepContext();
  await syncClock({ exec: ctx.exec, log: ctx.log, ntpServer, hasCommand: async (file) => tools.includes(file) });
  return { calls: execCalls.map((c) => [c.file, ...c.args].join(' ')), warnings: logs.filter((l) => l.level === 'warn') };
}

describe('the clock is set before a power action', () => {
  it.each(['ntp.example.org', '192.0.2.123', '2001:db8::123', 'ntp_1-a'])(
    'from %s with chronyd, then the hardware clock',
    async (server) => {
      const { calls, warnings } = await sync(server);
      expect(calls).toEqual([`chronyd -q server ${server} iburst`, 'hwclock -v --systohc']);
      expect(warnings).toEqual([]);
    },
  );

  it('with ntpdate where there is no chronyd', async () => {
    expect((await sync('ntp.example.org', ['ntpdate', 'hwclock'])).calls).toEqual([
      'ntpdate ntp.example.org',
      'hwclock -v --systohc',
    ]);
  });

  it.each(['ntp.example.org iburst minpoll 0', '-d', 'ntp.example.org;reboot', 'a'.repeat(254)])(
    'not from %j: neither a host name nor an IP address',
    async (server) => {
      const { calls, warnings } = await sync(server);
      expect(calls).toEqual(['hwclock -v --systohc']);
      expect(warnings.map((w) => w.msg)).toEqual([expect.stringMatching(/^Invalid NTP server address/)]);
    },
  );

  it('only the hardware clock without a server', async () => {
    expect((await sync(undefined)).calls).toEqual(['hwclock -v --systohc']);
  });
});
