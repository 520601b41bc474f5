// udhcpc's hook in the ramdisk (image/rootfs/usr/share/udhcpc/default.script, busybox sh as in
// the image) keeps a renewed lease's address in place: a flush and add took the NIC's routes,
// the default one included, away for a moment every half lease. A lease with another address
// replaces the old one; the MTU the server gives (udhcpc asks for it) is applied. `ip` is a
// shell function keeping each NIC's addresses in a file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSetupNetwork } from './network-stub.js';
import { busybox, runWithUdhcpcHook } from './ramdisk-shell.js';

const IP_STUB = `ip() {
  echo "ip $*" >>"$DIR/ip.log"
  case "$*" in
    "-4 -o addr show dev "*) [ -s "$DIR/addr.$6" ] && while read -r a; do echo "2: $6    inet $a scope global $6"; done <"$DIR/addr.$6" ;;
    "-4 addr flush dev "*) : >"$DIR/addr.$5" ;;
    "addr replace "* | "addr add "*) grep -qx "$3" "$DIR/addr.$interface" 2>/dev/null || echo "$3" >>"$DIR/addr.$interface" ;;
  esac
  return 0
}`;

describe.skipIf(!busybox)("udhcpc's hook renews in place and applies the MTU (busybox sh)", () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ramdisk-hook-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the hook events; returns the `ip` commands of the last one (after a 'mark' line) and eth0's addresses. */
  function events(first: string, last: string): { ip: string[]; addresses: string } {
    runWithUdhcpcHook(dir, IP_STUB, `${first}\necho mark >>"$DIR/ip.log"\n${last}`);
    const log = readFileSync(join(dir, 'ip.log'), 'utf8').split('\n').filter(Boolean);
    return { ip: log.slice(log.lastIndexOf('mark') + 1), addresses: readFileSync(join(dir, 'addr.eth0'), 'utf8') };
  }
  const lease = 'interface=eth0 METRIC=100 ip=192.0.2.10 mask=24 broadcast=192.0.2.255 router=192.0.2.1 dns=192.0.2.53';

  it('a renew of the same address replaces it and flushes nothing', () => {
    const { ip, addresses } = events(`hook deconfig interface=eth0\nhook bound ${lease}`, `hook renew ${lease}`);
    expect(ip.filter((c) => c.includes('flush'))).toEqual([]);
    expect(ip).toContain('ip addr replace 192.0.2.10/24 broadcast 192.0.2.255 dev eth0');
    expect(ip).toContain('ip route replace default via 192.0.2.1 dev eth0 metric 100');
    expect(addresses).toBe('192.0.2.10/24\n');
  });

  it('a lease with another address replaces the old one', () => {
    const { ip, addresses } = events(`hook bound ${lease}`, `hook bound ${lease.replace('192.0.2.10', '192.0.2.11')}`);
    expect(ip).toContain('ip -4 addr flush dev eth0 scope global');
    expect(addresses).toBe('192.0.2.11/24\n');
  });

  it('a lost lease (deconfig) takes the address and leaves the link as it is: a locked-down NIC stays down', () => {
    const { ip, addresses } = events(`hook bound ${lease}`, 'hook deconfig interface=eth0 METRIC=100');
    expect(ip).toContain('ip -4 addr flush dev eth0 scope global');
    expect(ip.filter((c) => c.startsWith('ip link set'))).toEqual([]);
    expect(addresses).toBe('');
  });

  it("the server's MTU is applied; one below 576 is not", () => {
    const jumbo = events('', `hook bound ${lease} mtu=9000`);
    expect(jumbo.ip).toContain('ip link set eth0 mtu 9000');
    const tiny = events('', `hook renew ${lease} mtu=68`);
    expect(tiny.ip.filter((c) => c.includes('mtu'))).toEqual([]);
  });

  it('udhcpc asks the server for the MTU (-O mtu): most send option 26 only when asked', () => {
    const run = runSetupNetwork('', { eth0: { mac: '52:54:00:00:00:01', carrierAt: 0, lease: '192.0.2.10/24' } });
    expect(run.udhcpc.eth0).toMatch(/ -O mtu /);
  });
});
