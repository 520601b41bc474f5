/**
 * A small whole-disk image for the demo: an MBR with one Linux partition whose content is
 * random, so that "it landed byte-exact" is a real check. Written in TypeScript (a 512-byte
 * table needs no tool).
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

export interface DemoImage {
  file: string;
  sizeBytes: number;
  sha256: string;
}

export function writeDemoImage(file: string, sizeMiB: number): DemoImage {
  const sizeBytes = sizeMiB * 1024 * 1024;
  const image = Buffer.alloc(sizeBytes);
  const firstLba = 2048;
  const sectors = sizeBytes / 512 - firstLba;
  // MBR partition entry 1 at 446: status, CHS (unused), type 0x83, CHS, first LBA, sectors.
  const entry = image.subarray(446, 462);
  entry[0] = 0x00;
  entry[4] = 0x83;
  entry.writeUInt32LE(firstLba, 8);
  entry.writeUInt32LE(sectors, 12);
  image.writeUInt32LE(0x64656d6f, 440); // disk signature "demo"
  image[510] = 0x55;
  image[511] = 0xaa;
  randomBytes(sectors * 512).copy(image, firstLba * 512);
  writeFileSync(file, image);
  return { file, sizeBytes, sha256: createHash('sha256').update(image).digest('hex') };
}
