/**
 * LLDP as IPA reports it: real switch frames (tcpdump's captures, see the fixtures README)
 * read with the real tcpdump become `[type, hex]` TLVs; and a live receive over a veth pair
 * whose other end sits in a network namespace and sends a captured frame.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/hardware/exec.js';
import { framesFromTcpdumpHex, lldpTlvsOfFrame, receiveLldp, tlvsAsHex } from '../../../src/hardware/inspection/lldp.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'inspection');

async function capturedFrames(file: string): Promise<Buffer[]> {
  const { stdout } = await run('tcpdump', ['-r', join(FIXTURES, file), '-xx', '-nn', 'ether', 'proto', '0x88cc']);
  return framesFromTcpdumpHex(stdout);
}

describe('LLDP frames from captures', () => {
  it('turns a Cisco switch frame into the TLVs IPA sends', async () => {
    const [frame] = await capturedFrames('LLDP_and_CDP.pcap');
    const tlvs = tlvsAsHex(lldpTlvsOfFrame(frame!));
    expect(tlvs.map(([type]) => type)).toEqual([1, 2, 3, 5, 6, 4, 7, 127, 127, 0]);
    // Chassis ID: subtype 4 (MAC) 00:19:2f:a7:b2:8d; port ID: subtype 1 (interface alias) "Uplink to S1"; TTL 120.
    expect(tlvs[0]).toEqual([1, '0400192fa7b28d']);
    expect(tlvs[1]).toEqual([2, '01' + Buffer.from('Uplink to S1').toString('hex')]);
    expect(tlvs[2]).toEqual([3, '0078']);
    expect(tlvs[3]).toEqual([5, Buffer.from('S2.cisco.com').toString('hex')]);
    expect(tlvs[5]).toEqual([4, Buffer.from('GigabitEthernet0/13').toString('hex')]);
    // 802.1 port VLAN ID 1; 802.3 MAC/PHY; the end TLV has an empty value.
    expect(tlvs[7]).toEqual([127, '0080c2010001']);
    expect(tlvs[8]![1].startsWith('00120f01')).toBe(true);
    expect(tlvs.at(-1)).toEqual([0, '']);
  });

  it('parses every captured frame to its end TLV', async () => {
    for (const file of ['LLDP_and_CDP.pcap', 'dcb_ets.pcap', 'lldp_mudurl.pcap']) {
      const frames = await capturedFrames(file);
      expect(frames.length, file).toBeGreaterThan(0);
      for (const frame of frames) {
        expect(frame.readUInt16BE(12), file).toBe(0x88cc);
        const tlvs = lldpTlvsOfFrame(frame);
        const end = tlvs.findIndex(([type]) => type === 0);
        expect(end, file).toBeGreaterThan(2);
        expect(tlvs.slice(0, 3).map(([type]) => type)).toEqual([1, 2, 3]);
      }
    }
  });

  it('keeps the bytes a truncated TLV has and drops a lone trailing byte, as IPA slices', () => {
    const header = Buffer.alloc(14);
    // Chassis ID (7 bytes), then a TTL TLV announcing 3 bytes with only 2 left.
    expect(tlvsAsHex(lldpTlvsOfFrame(Buffer.concat([header, Buffer.from('020704001122334455' + '06030078', 'hex')])))).toEqual([
      [1, '04001122334455'],
      [3, '0078'],
    ]);
    expect(tlvsAsHex(lldpTlvsOfFrame(Buffer.concat([header, Buffer.from('0000ff', 'hex')])))).toEqual([[0, '']]);
  });

  it('gives nothing for a frame shorter than an Ethernet header', () => {
    expect(lldpTlvsOfFrame(Buffer.alloc(10))).toEqual([]);
  });
});

const canUseNetns = (() => {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'needs tcpdump and python3';
  }
  return undefined;
})();

describe.skipIf(canUseNetns !== undefined)('LLDP received live on a veth pair', () => {
  const ns = `ralldp${process.pid}`;
  const receiving = `rall${process.pid % 100000}a`;
  const silent = `rall${process.pid % 100000}s`;
  let sender: ChildProcess | undefined;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

  beforeAll(() => {
    ip('netns', 'add', ns);
    for (const name of [receiving, silent]) {
      ip('link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`, 'netns', ns);
      ip('link', 'set', name, 'up');
      ip('-n', ns, 'link', 'set', `${name}p`, 'up');
    }
  });

  afterAll(() => {
    sender?.kill();
    for (const name of [receiving, silent]) {
      try {
        ip('link', 'del', name);
      } catch {
        // gone with the namespace already
      }
    }
    ip('netns', 'del', ns);
  });

  it('reports the first frame of a NIC that hears one and [] for a silent NIC after the timeout', async () => {
    const [frame] = await capturedFrames('LLDP_and_CDP.pcap');
    // The switch side: sends the captured frame every 100 ms through an AF_PACKET socket.
    const script = [
      'import socket, sys, time',
      `s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("${receiving}p", 0))`,
      `f = bytes.fromhex("${frame!.toString('hex')}")`,
      'print("sending", flush=True)',
      'for _ in range(300):',
      '    s.send(f); time.sleep(0.1)',
    ].join('\n');
    sender = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      sender!.stdout!.once('data', () => resolve());
      sender!.once('exit', (code) => reject(new Error(`the LLDP sender exited with ${code}`)));
    });
    const started = Date.now();
    const lldp = await receiveLldp({ exec: run, interfaces: [receiving, silent, 'lo'], timeoutSeconds: 5 });
    const elapsed = Date.now() - started;
    expect(Object.keys(lldp).sort()).toEqual([receiving, silent].sort());
    expect(lldp[receiving]).toEqual(tlvsAsHex(lldpTlvsOfFrame(frame!)));
    expect(lldp[silent]).toEqual([]);
    expect(elapsed).toBeGreaterThanOrEqual(4900);
    expect(elapsed).toBeLessThan(15_000);
  });
});
