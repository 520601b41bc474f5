/**
 * The one lsblk call every listing makes, and its JSON read with zod: lsblk's output differs
 * between util-linux versions (booleans as true/"1", MOUNTPOINT or MOUNTPOINTS, empty
 * strings for "unknown"), and the listing code gets one shape whatever the version.
 */
import { z } from 'zod';

export const LSBLK_COLUMNS = [
  'NAME',
  'KNAME',
  'PATH',
  'MAJ:MIN',
  'PKNAME',
  'TYPE',
  'SIZE',
  'MODEL',
  'VENDOR',
  'SERIAL',
  'WWN',
  'ROTA',
  'HCTL',
  'RO',
  'RM',
  'TRAN',
  'LOG-SEC',
  'PHY-SEC',
  'FSTYPE',
  'LABEL',
  'PTTYPE',
  'PARTTYPE',
  'MOUNTPOINTS',
  'DISC-GRAN',
  'DISC-ZERO',
] as const;

/** lsblk prints booleans as true/false or "1"/"0" depending on its version. */
const lsblkBool = z.union([z.boolean(), z.string(), z.number(), z.null()]).transform((v) => v === true || v === '1' || v === 1);
const lsblkNumber = z.union([z.number(), z.string(), z.null()]).transform((v) => (v === null || v === '' ? 0 : Number(v)));
const lsblkText = z
  .union([z.string(), z.null()])
  .optional()
  .transform((v) => (v === undefined || v === null || v.trim() === '' ? null : v.trim()));

export interface LsblkNode {
  name: string;
  kname: string | null;
  path: string | null;
  'maj:min': string | null;
  pkname: string | null;
  type: string;
  size: number;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  rota: boolean;
  hctl: string | null;
  ro: boolean;
  rm: boolean;
  tran: string | null;
  'log-sec': number;
  'phy-sec': number;
  fstype: string | null;
  label: string | null;
  pttype: string | null;
  parttype: string | null;
  mountpoints: string[];
  'disc-gran': number;
  'disc-zero': boolean;
  children: LsblkNode[];
}

const lsblkNode: z.ZodType<LsblkNode> = z.lazy(() =>
  z.object({
    name: z.string(),
    kname: lsblkText,
    path: lsblkText,
    'maj:min': lsblkText,
    pkname: lsblkText,
    type: z.string(),
    size: lsblkNumber,
    model: lsblkText,
    vendor: lsblkText,
    serial: lsblkText,
    wwn: lsblkText,
    rota: lsblkBool,
    hctl: lsblkText,
    ro: lsblkBool,
    rm: lsblkBool,
    tran: lsblkText,
    'log-sec': lsblkNumber,
    'phy-sec': lsblkNumber,
    fstype: lsblkText,
    label: lsblkText,
    pttype: lsblkText,
    parttype: lsblkText,
    // lsblk ≥ 2.37 prints a list (with null for "not mounted"); older ones MOUNTPOINT.
    mountpoints: z
      .array(z.string().nullable())
      .optional()
      .transform((list) => (list ?? []).filter((m): m is string => typeof m === 'string' && m.length > 0)),
    'disc-gran': lsblkNumber,
    'disc-zero': lsblkBool,
    children: z.array(lsblkNode).optional().default([]),
  }),
) as unknown as z.ZodType<LsblkNode>;

const lsblkOutput = z.object({ blockdevices: z.array(lsblkNode).default([]) });

/** Parses `lsblk --json --bytes --output <LSBLK_COLUMNS>` output (exported for fixture tests). */
export function parseLsblkJson(stdout: string): LsblkNode[] {
  return lsblkOutput.parse(JSON.parse(stdout)).blockdevices;
}
