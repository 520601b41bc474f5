/**
 * The virtual media ISO Ironic builds for a node with network_data (ironic/common/images.py):
 * ISO 9660 with Joliet, volume label config-2 (Ironic's `_label` when openstack/ files are on
 * it), the publisher ID Ironic also puts on the kernel line as ir_pub_id=, and the node's
 * network data at openstack/latest/network_data.json. Made with genisoimage (Ironic runs
 * mkisofs, the same program) in the run's own folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ConfigDrive {
  networkData: unknown;
  publisherId: string;
}

/** Writes the ISO to `file` and returns its path. */
export function writeConfigDriveIso(file: string, drive: ConfigDrive): string {
  const tree = `${file}.d`;
  mkdirSync(join(tree, 'openstack', 'latest'), { recursive: true });
  writeFileSync(join(tree, 'openstack', 'latest', 'network_data.json'), JSON.stringify(drive.networkData, null, 2));
  try {
    execFileSync('genisoimage', ['-quiet', '-V', 'config-2', '-publisher', drive.publisherId, '-J', '-l', '-o', file, tree]);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
  return file;
}
