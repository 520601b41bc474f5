// The ramdisk's /init reads its kernel parameters (image/rootfs/usr/lib/ramdisk/functions.sh
// and network.sh) with busybox sh, as in the image: BOOTIF and the IPA disk-wait settings are
// taken as IPA reads them, ip= in the dracut/klibc form is split the way dracut does, and a
// parameter it cannot use is named in a message (console, kernel log and init log), never
// ignored silently.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { busybox, RAMDISK_SHELL_LIB } from './ramdisk-shell.js';

const lib = RAMDISK_SHELL_LIB;

describe.skipIf(!busybox)('the ramdisk init reads its kernel parameters (busybox sh)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ramdisk-init-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `script` after sourcing functions.sh with `cmdline` as /proc/cmdline; returns stdout and the init log. */
  function run(cmdline: string, script: string): { stdout: string; log: string } {
    const cmdlineFile = join(dir, 'cmdline');
    const log = join(dir, 'init.log');
    writeFileSync(cmdlineFile, `${cmdline}\n`);
    writeFileSync(log, '');
    const stdout = execFileSync(busybox!, ['sh', '-c', `. ${lib}/functions.sh; ${script}`], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        CMDLINE: cmdlineFile,
        INIT_LOG: log,
        KMSG: '/dev/null',
        CONSOLES: '/dev/null',
        RAMDISK_LIB: lib,
      },
    });
    return { stdout, log: readFileSync(log, 'utf8') };
  }

  it("takes PXE's BOOTIF=01-<mac> and the IPA disk-wait settings", () => {
    const { stdout, log } = run(
      'console=ttyS0 BOOTIF=01-52-54-00-AB-CD-EF ipa-disk-wait-attempts=3 ipa-disk-wait-delay=0.5 ipa-ntp-server=ntp.example ip=dhcp',
      'parse_cmdline; echo "$BOOTIF_MAC|$DISK_WAIT_ATTEMPTS|$DISK_WAIT_DELAY|$NTP_SERVER|$IP_PARAMS"',
    );
    expect(stdout.trim()).toBe('52:54:00:ab:cd:ef|3|0.5|ntp.example| dhcp');
    expect(log).toBe('');
  });

  it('names a bad parameter and keeps the default instead', () => {
    const { stdout, log } = run(
      'BOOTIF=not-a-mac ipa-disk-wait-attempts=ten ipa-disk-wait-delay=-1 ipa-ntp-server=',
      'parse_cmdline; echo "[$BOOTIF_MAC]|$DISK_WAIT_ATTEMPTS|$DISK_WAIT_DELAY|[$NTP_SERVER]"',
    );
    expect(stdout.trim()).toBe('[]|10|3|[]');
    expect(log).toMatch(/BAD KERNEL PARAMETER BOOTIF=not-a-mac: not a MAC address/);
    expect(log).toMatch(/BAD KERNEL PARAMETER ipa-disk-wait-attempts=ten: not a whole number; using 10/);
    expect(log).toMatch(/BAD KERNEL PARAMETER ipa-disk-wait-delay=-1: not a number of seconds; using 3/);
    expect(log).toMatch(/BAD KERNEL PARAMETER ipa-ntp-server=: empty/);
  });

  it('takes ipa-ntp-server only as an IP address or a plain host name, as IPA', () => {
    const server = (value: string) => run(`ipa-ntp-server=${value}`, 'parse_cmdline; echo "[$NTP_SERVER]"');
    expect(server('2001:db8::123').stdout.trim()).toBe('[2001:db8::123]');
    for (const value of ['ntp.example;reboot', '-d', 'a'.repeat(254)]) {
      const { stdout, log } = server(value);
      expect(stdout.trim()).toBe('[]');
      expect(log).toContain(`BAD KERNEL PARAMETER ipa-ntp-server=${value}: not a host name or IP address; the clock is not set`);
    }
  });

  it('splits ip= as dracut does: IPv6 in brackets, netmask or prefix length', () => {
    const { stdout } = run(
      '',
      [
        'split_ip_param "[2001:db8::10]::[2001:db8::1]:64:node1:eth0:none:[2001:db8::53]"',
        'split_ip_param "192.0.2.10::192.0.2.1:255.255.255.0:node1:eth1:off:192.0.2.53:192.0.2.54"',
        'prefix_of 255.255.255.0; prefix_of 255.255.240.0; prefix_of 26',
        'prefix_of 255.0.255.0 || echo bad-mask',
      ].join('; '),
    );
    expect(stdout.trim().split('\n')).toEqual([
      '2001:db8::10||2001:db8::1|64|node1|eth0|none|2001:db8::53',
      '192.0.2.10||192.0.2.1|255.255.255.0|node1|eth1|off|192.0.2.53|192.0.2.54',
      '24',
      '20',
      '26',
      'bad-mask',
    ]);
  });

  it('refuses a static ip= it cannot apply, saying why', () => {
    const { log } = run(
      '',
      'configure_static "192.0.2.999::192.0.2.1:24::eth0:none"; configure_static "192.0.2.10:::33::eth0:none"; true',
    );
    expect(log).toMatch(
      /BAD KERNEL PARAMETER ip=192\.0\.2\.999::192\.0\.2\.1:24::eth0:none: '192\.0\.2\.999' is not an IP address/,
    );
    expect(log).toMatch(/BAD KERNEL PARAMETER ip=192\.0\.2\.10:::33::eth0:none: '33' is not a netmask or prefix length/);
  });
});
