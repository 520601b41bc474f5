/**
 * What the last successful image write left on the disk: `standby.get_partition_uuids`
 * answers from it and `image.install_bootloader` works on its device, as IPA's standby
 * extension keeps `partition_uuids` between commands.
 */
export interface PartitionUuids {
  'root uuid'?: string;
  /** A partition image without an ESP reports null, as IPA's work_on_disk (None). */
  'efi system partition uuid'?: string | null;
  'PReP Boot partition uuid'?: string;
  partitions?: Record<string, string>;
}

export interface LastWrite {
  imageId: string;
  device: string;
  partitionUuids: PartitionUuids;
}

let lastWrite: LastWrite | undefined;

export function recordLastWrite(record: LastWrite): void {
  lastWrite = record;
}

export function getLastWrite(): LastWrite | undefined {
  return lastWrite;
}

/** A new agent process (or a re-initialised manager) starts with nothing written. */
export function forgetLastWrite(): void {
  lastWrite = undefined;
}
