/**
 * The UEFI boot entries a VM's firmware holds, read by the host from the VM's OVMF variable
 * store file (its NVRAM): the firmware volume header, the authenticated variable store after
 * it, and each live variable (state VAR_ADDED) named `Boot####` or `BootOrder` in the EFI
 * global namespace. A `Boot####` load option is decoded into its description and device path:
 * the hard-drive node (partition number, start, size, GPT partition GUID) and the file path
 * node, which is what `efibootmgr -c -d <disk> -p <n> -l <loader>` writes.
 */
import { readFileSync } from 'node:fs';

const AUTHENTICATED_STORE_GUID = 'aaf32c78-947b-439a-a180-2e144ec37792';
const EFI_GLOBAL_VARIABLE_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
const VARIABLE_START_ID = 0x55aa;
/** VAR_ADDED, and VAR_ADDED & VAR_IN_DELETED_TRANSITION (still the live copy). */
const LIVE_STATES = new Set([0x3f, 0x3e]);
/** StartId, State, Reserved, Attributes, MonotonicCount, TimeStamp, PubKeyIndex, NameSize, DataSize, VendorGuid. */
const AUTH_VARIABLE_HEADER_BYTES = 60;
const STORE_HEADER_BYTES = 28;

interface UefiBootEntry {
  /** `Boot0003` */
  name: string;
  description: string;
  active: boolean;
  partition?: { number: number; startBytes: number; sizeBytes: number; guid: string };
  loader?: string;
}

export interface UefiBootVariables {
  entries: UefiBootEntry[];
  /** `Boot####` names in BootOrder order. */
  bootOrder: string[];
}

/** EFI_GUID layout: a u32, two u16 little endian, then eight bytes as they are. */
function guidAt(buffer: Buffer, offset: number): string {
  const hex = (start: number, end: number) => buffer.subarray(offset + start, offset + end).toString('hex');
  return [
    buffer.readUInt32LE(offset).toString(16).padStart(8, '0'),
    buffer
      .readUInt16LE(offset + 4)
      .toString(16)
      .padStart(4, '0'),
    buffer
      .readUInt16LE(offset + 6)
      .toString(16)
      .padStart(4, '0'),
    hex(8, 10),
    hex(10, 16),
  ].join('-');
}

function utf16z(buffer: Buffer, offset: number, limit: number): { text: string; end: number } {
  let end = offset;
  while (end + 1 < limit && buffer.readUInt16LE(end) !== 0) end += 2;
  return { text: buffer.subarray(offset, end).toString('utf16le'), end: end + 2 };
}

function decodeLoadOption(name: string, data: Buffer): UefiBootEntry {
  const attributes = data.readUInt32LE(0);
  const pathLength = data.readUInt16LE(4);
  const { text: description, end } = utf16z(data, 6, data.length);
  const entry: UefiBootEntry = { name, description, active: (attributes & 1) === 1 };
  let node = end;
  const pathEnd = Math.min(end + pathLength, data.length);
  while (node + 4 <= pathEnd) {
    const [type, subtype, length] = [data[node]!, data[node + 1]!, data.readUInt16LE(node + 2)];
    if (type === 0x7f || length < 4) break;
    if (type === 4 && subtype === 1) {
      entry.partition = {
        number: data.readUInt32LE(node + 4),
        startBytes: Number(data.readBigUInt64LE(node + 8)) * 512,
        sizeBytes: Number(data.readBigUInt64LE(node + 16)) * 512,
        guid: guidAt(data, node + 24),
      };
    } else if (type === 4 && subtype === 4) {
      entry.loader = utf16z(data, node + 4, node + length).text;
    }
    node += length;
  }
  return entry;
}

export function readUefiBootVariables(varsFile: string): UefiBootVariables {
  const fd = readFileSync(varsFile);
  if (fd.subarray(0x28, 0x2c).toString('latin1') !== '_FVH') throw new Error(`${varsFile} is not a firmware volume`);
  const store = fd.readUInt16LE(0x30);
  if (guidAt(fd, store) !== AUTHENTICATED_STORE_GUID) throw new Error(`${varsFile}: not an authenticated variable store`);
  const storeEnd = store + fd.readUInt32LE(store + 16);
  const entries: UefiBootEntry[] = [];
  let bootOrder: string[] = [];
  let at = store + STORE_HEADER_BYTES;
  while (at + AUTH_VARIABLE_HEADER_BYTES <= storeEnd && fd.readUInt16LE(at) === VARIABLE_START_ID) {
    const state = fd[at + 2]!;
    const nameSize = fd.readUInt32LE(at + 36);
    const dataSize = fd.readUInt32LE(at + 40);
    const vendor = guidAt(fd, at + 44);
    const nameStart = at + AUTH_VARIABLE_HEADER_BYTES;
    // x64 EDK2 pads neither name nor data (ALIGNMENT 1); headers start 4-byte aligned.
    const dataStart = nameStart + nameSize;
    const name = fd
      .subarray(nameStart, nameStart + nameSize)
      .toString('utf16le')
      .replace(/\0+$/, '');
    const data = fd.subarray(dataStart, dataStart + dataSize);
    if (LIVE_STATES.has(state) && vendor === EFI_GLOBAL_VARIABLE_GUID) {
      if (/^Boot[0-9A-F]{4}$/.test(name)) entries.push(decodeLoadOption(name, data));
      if (name === 'BootOrder') {
        bootOrder = [];
        for (let i = 0; i + 1 < data.length; i += 2) {
          bootOrder.push(`Boot${data.readUInt16LE(i).toString(16).toUpperCase().padStart(4, '0')}`);
        }
      }
    }
    at = dataStart + dataSize;
    at += (4 - (at % 4)) % 4;
  }
  return { entries, bootOrder };
}
