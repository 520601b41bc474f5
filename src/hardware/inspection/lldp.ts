/**
 * LLDP as IPA receives it (netutils.get_lldp_info + collect_lldp_data): one frame per NIC,
 * waited for at most `lldp_timeout` seconds, reported as raw TLVs `[type, hex value]` so
 * the conductor's LLDP processing (Ironic's `parse_lldp` hook, ironic-inspector's
 * `lldp_basic`) decodes them itself.
 *
 * Node cannot open AF_PACKET sockets, so frames are received with tcpdump (one process per
 * NIC, `-c 1`, promiscuous as IPA's sockets are, BPF filter on the LLDP ethertype) and read
 * from its `-xx` hex dump: plain text through the exec wrapper, the whole frame including
 * the Ethernet header, and the same tool reads captured .pcap files in the tests.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExecError } from '../exec.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Exec } from '../step-context.js';

const ETHERNET_HEADER_BYTES = 14;

/** One TLV: the 7-bit type and the raw value bytes. */
export type LldpTlv = [type: number, value: Buffer];
/** What IPA sends: `{"eth0": [[1, "04525400123456"], ...]}`; `[]` when nothing came. */
export type LldpRawData = Record<string, Array<[number, string]>>;

/**
 * IPA's `_parse_tlv`: type (7 bits) and length (9 bits), then the value. A TLV whose length
 * runs past the end keeps the bytes that are there, as IPA's slicing does; a lone trailing
 * byte is dropped.
 */
function parseLldpTlvs(payload: Buffer, log: Logger = silentLogger): LldpTlv[] {
  const tlvs: LldpTlv[] = [];
  let offset = 0;
  while (payload.length - offset >= 2) {
    const header = payload.readUInt16BE(offset);
    const type = header >> 9;
    const length = header & 0x01ff;
    tlvs.push([type, payload.subarray(offset + 2, offset + 2 + length)]);
    offset += 2 + length;
  }
  if (offset < payload.length) log.warn({ trailing: payload.subarray(offset).toString('hex') }, 'trailing byte in an LLDP frame');
  return tlvs;
}

/** IPA's `_receive_lldp_packets`: frames shorter than an Ethernet header give nothing. */
export function lldpTlvsOfFrame(frame: Buffer, log?: Logger): LldpTlv[] {
  if (frame.length < ETHERNET_HEADER_BYTES) return [];
  return parseLldpTlvs(frame.subarray(ETHERNET_HEADER_BYTES), log);
}

/** The frames of tcpdump's `-xx` output: a header line per packet, then `\t0x0010:  0180 c200 ...` lines. */
export function framesFromTcpdumpHex(text: string): Buffer[] {
  const frames: string[][] = [];
  for (const line of text.split('\n')) {
    const dump = /^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4}\s?)+)/i.exec(line);
    if (dump) frames.at(-1)?.push(dump[1]!.replace(/\s+/g, ''));
    else if (line.trim() !== '') frames.push([]);
  }
  return frames.filter((hex) => hex.length > 0).map((hex) => Buffer.from(hex.join(''), 'hex'));
}

export function tlvsAsHex(tlvs: readonly LldpTlv[]): Array<[number, string]> {
  return tlvs.map(([type, value]) => [type, value.toString('hex')]);
}

const tcpdumpArgs = (iface: string) => [
  '-i',
  iface,
  '-c',
  '1',
  '-xx',
  '-nn',
  '-l',
  '--immediate-mode',
  'ether',
  'proto',
  '0x88cc',
];

export interface ReceiveLldpOptions {
  exec: Exec;
  interfaces: readonly string[];
  timeoutSeconds: number;
  log?: Logger;
  signal?: AbortSignal;
}

/**
 * The first LLDP frame on each interface, all interfaces at once. Differs from IPA on
 * purpose in one way: an interface that cannot be listened on (down, vanished) gets `[]`
 * and a warning, instead of losing the data of every other interface.
 */
export async function receiveLldp(options: ReceiveLldpOptions): Promise<LldpRawData> {
  const log = options.log ?? silentLogger;
  const names = options.interfaces.filter((name) => name !== 'lo');
  log.info({ interfaces: names, timeout: options.timeoutSeconds }, 'waiting for LLDP frames');
  const received = await Promise.all(
    names.map(async (iface): Promise<[string, Array<[number, string]>]> => {
      let stdout: string;
      try {
        ({ stdout } = await options.exec('tcpdump', tcpdumpArgs(iface), {
          timeoutMs: Math.max(1, options.timeoutSeconds * 1000),
          quiet: true,
          ...(options.signal ? { signal: options.signal } : {}),
        }));
      } catch (error) {
        if (error instanceof ExecError && error.reason === 'timeout') {
          log.warn({ interface: iface }, 'LLDP timed out');
          return [iface, []];
        }
        if (error instanceof ExecError && error.reason === 'not-found') throw error;
        log.warn({ interface: iface, err: error }, 'cannot listen for LLDP on this interface');
        return [iface, []];
      }
      const frame = framesFromTcpdumpHex(stdout)[0];
      log.info({ interface: iface }, 'found LLDP info');
      return [iface, frame ? tlvsAsHex(lldpTlvsOfFrame(frame, log)) : []];
    }),
  );
  return Object.fromEntries(received);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** IPA's `netutils.list_interfaces`: VLANs by name, NICs with a device, bonds; never `lo`. */
export async function listLldpInterfaces(sysRoot = '/sys'): Promise<string[]> {
  const net = join(sysRoot, 'class', 'net');
  const names = await readdir(net).catch(() => [] as string[]);
  const kept = await Promise.all(
    names.map(
      async (name) =>
        name !== 'lo' &&
        (/^[^.]*\.\d+$/.test(name) || (await exists(join(net, name, 'device'))) || (await exists(join(net, name, 'bonding')))),
    ),
  );
  return names.filter((_, i) => kept[i]).sort();
}
