// udhcpc's hook in the ramdisk (image/rootfs/usr/share/udhcpc/default.script, with
// usr/lib/ramdisk/resolv.sh) run with busybox sh as in the image: one udhcpc runs per NIC,
// so two hooks can write /etc/resolv.conf at the same moment; every update is whole and none
// is lost, a NIC that loses its lease takes its servers out, and the BOOTIF NIC's (the
// lowest route metric) come first. `ip` is a shell function here (busybox sh runs its own
// applet before anything on PATH), recording what the hook asks of it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { busybox, runWithUdhcpcHook } from './ramdisk-shell.js';

describe.skipIf(!busybox)("udhcpc's hook keeps /etc/resolv.conf whole (busybox sh)", () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-hook-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sh = (script: string) => runWithUdhcpcHook(dir, 'ip() { echo "$interface: ip $*" >>"$DIR/ip.log"; }', script);
  const resolvConf = () => readFileSync(join(dir, 'resolv.conf'), 'utf8');

  it('two NICs bound at the same moment give a whole resolv.conf, 200 times out of 200', () => {
    const out = sh(`
      good=0
      i=0
      while [ $i -lt 200 ]; do
        rm -rf "$DNS_DIR" "$RESOLV_CONF"
        hook bound interface=eth0 METRIC=100 ip=192.0.2.10 mask=24 router=192.0.2.1 dns=192.0.2.53 &
        hook bound interface=eth1 METRIC=101 ip=198.51.100.10 mask=24 router=198.51.100.1 dns=198.51.100.53 &
        wait
        [ "$(cat "$RESOLV_CONF" 2>/dev/null)" = "nameserver 192.0.2.53
nameserver 198.51.100.53" ] && good=$((good + 1))
        i=$((i + 1))
      done
      echo "good=$good"
    `);
    expect(out.trim()).toBe('good=200');
    // Nothing left behind: no temporary file beside resolv.conf or among the NICs' files.
    expect(readdirSync(dir).sort()).toEqual(['dns', 'dns.lock', 'ip.log', 'kmsg', 'resolv.conf']);
    expect(readdirSync(join(dir, 'dns')).sort()).toEqual(['100-eth0', '101-eth1']);
  });

  it("the BOOTIF NIC's servers and domain come first, in one search line, whatever the order of the leases", () => {
    sh(`
      hook bound interface=eth1 METRIC=101 ip=198.51.100.10 mask=24 dns="198.51.100.53 198.51.100.54" domain=b.example
      hook bound interface=eth0 METRIC=100 ip=192.0.2.10 mask=24 dns="192.0.2.53 198.51.100.53" domain=a.example
    `);
    expect(resolvConf()).toBe(
      'search a.example b.example\nnameserver 192.0.2.53\nnameserver 198.51.100.53\nnameserver 198.51.100.54\n',
    );
  });

  it('a NIC that loses its lease (deconfig) takes its servers out of resolv.conf', () => {
    sh(`
      hook bound interface=eth0 METRIC=100 ip=192.0.2.10 mask=24 dns=192.0.2.53
      hook bound interface=eth1 METRIC=101 ip=198.51.100.10 mask=24 dns=198.51.100.53 domain=b.example
      hook deconfig interface=eth1 METRIC=101
    `);
    expect(resolvConf()).toBe('nameserver 192.0.2.53\n');
  });
});
