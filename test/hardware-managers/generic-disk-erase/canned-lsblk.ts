/**
 * `lsblk --json` output for disks that exist nowhere: a ramdisk agent in a test answers lsblk
 * with it, so it never sees this machine's own disks (in a ramdisk every disk is a target).
 */
const MIB = 1024 * 1024;

export interface CannedDisk {
  name: string;
  /** Default `/dev/<name>`. */
  path?: string;
  type?: string;
  sizeBytes?: number;
  ro?: boolean;
  mountpoints?: Array<string | null>;
  tran?: string;
  model?: string;
  vendor?: string | null;
  discGranularity?: number;
}

export function cannedLsblkJson(disks: readonly CannedDisk[]): string {
  return JSON.stringify({
    blockdevices: disks.map((d) => ({
      name: d.name,
      kname: d.name,
      path: d.path ?? `/dev/${d.name}`,
      'maj:min': null,
      pkname: null,
      type: d.type ?? 'disk',
      size: d.sizeBytes ?? 64 * MIB,
      model: d.model ?? 'CANNED',
      vendor: d.vendor === undefined ? 'TEST' : d.vendor,
      serial: `serial-${d.name}`,
      wwn: null,
      rota: false,
      hctl: null,
      ro: d.ro ?? false,
      rm: false,
      tran: d.tran ?? 'sata',
      'log-sec': 512,
      'phy-sec': 512,
      fstype: null,
      label: null,
      pttype: null,
      parttype: null,
      mountpoints: d.mountpoints ?? [null],
      'disc-gran': d.discGranularity ?? 0,
      'disc-zero': false,
    })),
  });
}
