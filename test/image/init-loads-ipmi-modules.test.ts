// The ramdisk's /init loads the IPMI modules by name, as IPA's _load_ipmi_modules does
// (image/rootfs/usr/lib/ramdisk/functions.sh, busybox sh as in the image): ipmi_devintf,
// which makes /dev/ipmi0 for ipmitool (the inventory's bmc_address), has no modalias, and
// busybox's modprobe leaves out ipmi_msghandler's soft dependency on it. `modprobe` is a
// shell function here (busybox sh runs its own applet before anything on PATH).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { busybox, RAMDISK_SHELL_LIB } from './ramdisk-shell.js';

describe.skipIf(!busybox)('the ramdisk init loads the IPMI modules (busybox sh)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramdisk-ipmi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs load_ipmi_modules with a modprobe that fails for `failing`; returns modprobe's arguments and the init log. */
  function run(failing: string, ipmiDevice: string): { modprobe: string; log: string } {
    const log = join(dir, 'init.log');
    const calls = join(dir, 'modprobe.log');
    writeFileSync(log, '');
    writeFileSync(calls, '');
    execFileSync(
      busybox!,
      [
        'sh',
        '-c',
        `. "$RAMDISK_LIB/functions.sh"
        modprobe() { echo "$*" >>"$CALLS"; case " $* " in *" $FAILING "*) return 1 ;; esac; }
        load_ipmi_modules`,
      ],
      {
        env: {
          PATH: process.env.PATH,
          RAMDISK_LIB: RAMDISK_SHELL_LIB,
          INIT_LOG: log,
          KMSG: '/dev/null',
          CONSOLES: '/dev/null',
          CALLS: calls,
          FAILING: failing,
          IPMI_DEVICE: ipmiDevice,
        },
      },
    );
    return { modprobe: readFileSync(calls, 'utf8').trim(), log: readFileSync(log, 'utf8') };
  }

  it("asks for ipmi_msghandler, ipmi_devintf and ipmi_si by name, and names the BMC's device", () => {
    const device = join(dir, 'ipmi0');
    writeFileSync(device, '');
    const { modprobe, log } = run('none', device);
    expect(modprobe).toBe('-a -q ipmi_msghandler ipmi_devintf ipmi_si');
    expect(log).toContain(`ramdisk: ipmi: ${device}`);
  });

  it('a machine without a BMC (ipmi_si does not load) is no error', () => {
    const { log } = run('ipmi_si', join(dir, 'no-such-device'));
    expect(log).toContain('ramdisk: ipmi: no BMC device');
    expect(log).not.toMatch(/WARNING/);
  });

  it('/init loads them beside the md modules and waits for them before the agent starts', () => {
    const init = readFileSync(join(RAMDISK_SHELL_LIB, '..', '..', '..', 'init'), 'utf8');
    expect(init).toMatch(/^load_ipmi_modules &\nipmi_pid=\$!$/m);
    expect(init).toMatch(/^wait .*"\$ipmi_pid"/m);
    expect(init.indexOf('wait "$md_pid" "$ipmi_pid"')).toBeLessThan(init.indexOf('exec /usr/sbin/init'));
  });
});
