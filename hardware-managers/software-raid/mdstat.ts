/**
 * `/proc/mdstat`: the kernel's view of every array, read for the initial resync's progress
 * (the step does not wait for it; the kernel syncs in the background while the node goes
 * on to deploy, as with IPA).
 */
import { readFile } from 'node:fs/promises';

export interface MdstatArray {
  /** `md0` */
  name: string;
  state: string;
  /** `raid1`, `raid0`, `raid10`, ... */
  personality: string | null;
  members: string[];
  sizeBytes: number;
  /** `resync`, `recovery`, `reshape`, `check`, `repair`; null when idle. */
  syncAction: string | null;
  /** DELAYED / PENDING syncs have no percentage yet. */
  syncPercent: number | null;
  syncDoneBytes: number | null;
  syncTotalBytes: number | null;
  syncEtaSeconds: number | null;
  syncRateBytesPerSecond: number | null;
  syncPending: boolean;
}

const HEADER = /^(md\S+)\s*:\s*(\S+)\s*(?:\((?:auto-)?read-only\)\s*)?(.*)$/;
const SYNC =
  /\b(resync|recovery|reshape|check|repair)\s*=\s*([\d.]+)%\s*\((\d+)\/(\d+)\)\s*finish=([\d.]+)min\s*speed=(\d+)K\/sec/;
const SYNC_WAITING = /\b(resync|recovery|reshape|check|repair)\s*=\s*(DELAYED|PENDING)/;

export function parseMdstat(text: string): MdstatArray[] {
  const arrays: MdstatArray[] = [];
  let current: MdstatArray | undefined;
  for (const line of text.split('\n')) {
    const header = HEADER.exec(line);
    if (header) {
      const words = header[3]!.trim().split(/\s+/).filter(Boolean);
      const personality = words[0] && !words[0].includes('[') ? words.shift()! : null;
      current = {
        name: header[1]!,
        state: header[2]!,
        personality,
        members: words.map((w) => w.replace(/\[\d+\].*$/, '')),
        sizeBytes: 0,
        syncAction: null,
        syncPercent: null,
        syncDoneBytes: null,
        syncTotalBytes: null,
        syncEtaSeconds: null,
        syncRateBytesPerSecond: null,
        syncPending: false,
      };
      arrays.push(current);
      continue;
    }
    if (!current) continue;
    const blocks = /^\s+(\d+) blocks/.exec(line);
    if (blocks) current.sizeBytes = Number(blocks[1]) * 1024;
    const sync = SYNC.exec(line);
    if (sync) {
      current.syncAction = sync[1]!;
      current.syncPercent = Number(sync[2]);
      current.syncDoneBytes = Number(sync[3]) * 1024;
      current.syncTotalBytes = Number(sync[4]) * 1024;
      current.syncEtaSeconds = Math.round(Number(sync[5]) * 60);
      current.syncRateBytesPerSecond = Number(sync[6]) * 1024;
      continue;
    }
    const waiting = SYNC_WAITING.exec(line);
    if (waiting) {
      current.syncAction = waiting[1]!;
      current.syncPending = true;
    }
  }
  return arrays;
}

export async function readMdstat(procRoot = '/proc'): Promise<MdstatArray[]> {
  return parseMdstat(await readFile(`${procRoot}/mdstat`, 'utf8').catch(() => ''));
}
