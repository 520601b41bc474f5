/**
 * What a UEFI deploy onto a software RAID root must leave, read by the host from the disk
 * files and the VM's variable store: every holder disk carries its own ESP (`uefi-holder-<n>`,
 * type EF00, 550 MiB, a RAID-1 member with metadata 1.0, so its first bytes are the image's
 * ESP as firmware reads it), the image's own ESP inside the md root no longer reads as a
 * filesystem, the md root holds the image's root partition, and the firmware has an active
 * boot entry for the loader on each holder's ESP (partition number, start, size and GPT GUID
 * of that very partition), listed in BootOrder.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { examinePartition, partitionsOf, readAt } from './md-check.js';
import type { RaidMember } from './raid-scenario.js';
import type { UefiImage } from './uefi-image.js';
import { readUefiBootVariables } from './uefi-vars.js';

const ESP_TYPE = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
const ESP_MIB = 550;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The filesystem type blkid's low-level probe finds in some bytes, or undefined. */
function probeType(bytes: Buffer): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'esp-probe-'));
  try {
    writeFileSync(join(dir, 'region'), bytes);
    return execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', join(dir, 'region')], { encoding: 'utf8' }).trim();
  } catch {
    return undefined; // blkid exits 2 when it finds nothing
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function checkUefiRaidBoot(root: readonly RaidMember[], image: UefiImage, varsFile: string): string[] {
  const lines: string[] = [];
  for (const member of root) {
    const base = member.partition.startBytes + member.dataOffsetBytes;
    const rootBytes = readAt(member.file, base + image.root.startBytes, image.root.sizeBytes);
    expect(sha256(rootBytes), `image root partition on ${member.file}`).toBe(image.root.sha256);
    expect(probeType(readAt(member.file, base + image.esp.startBytes, image.esp.sizeBytes)), 'image ESP inside the md root').toBe(
      undefined,
    );
  }
  lines.push('md root members hold the image’s root partition; its own ESP there is wiped');

  const { entries, bootOrder } = readUefiBootVariables(varsFile);
  const arrays = new Set<string>();
  for (const member of root) {
    const disk = member.file.split('/').pop()!;
    const esps = partitionsOf(member.file).partitions.filter((p) => p.name?.startsWith('uefi-holder-'));
    expect(esps, `uefi-holder ESP on ${disk}: ${JSON.stringify(partitionsOf(member.file))}`).toHaveLength(1);
    const esp = esps[0]!;
    expect(esp.type.toLowerCase()).toBe(ESP_TYPE);
    expect(esp.sizeBytes).toBe(ESP_MIB * 1024 * 1024);
    const { fields, text } = examinePartition(member.file, esp);
    expect(fields['Version'], `mdadm --examine ${disk} ${esp.node}: ${text}`).toBe('1.0');
    expect(fields['Raid Level']).toBe('raid1');
    expect(fields['Raid Devices']).toBe('2');
    expect(fields['Name']).toMatch(/(^|:)esp\b/);
    arrays.add(fields['Array UUID']!);
    expect(sha256(readAt(member.file, esp.startBytes, image.esp.sizeBytes)), `ESP copy on ${disk}`).toBe(image.esp.sha256);

    const boot = entries.filter(
      (e) =>
        e.active &&
        e.partition?.guid === esp.uuid &&
        e.partition?.number === Number(/(\d+)$/.exec(esp.node)![1]) &&
        e.partition?.startBytes === esp.startBytes &&
        e.partition?.sizeBytes === esp.sizeBytes,
    );
    expect(boot.length, `boot entries for ${disk} ${esp.node} (${esp.uuid}) among ${JSON.stringify(entries)}`).toBeGreaterThan(0);
    for (const entry of boot) {
      expect(entry.loader?.toUpperCase()).toBe('\\EFI\\BOOT\\BOOTX64.EFI');
      expect(bootOrder).toContain(entry.name);
    }
    lines.push(
      `${disk}: ESP ${esp.node.split('/').pop()} (uefi-holder, ${ESP_MIB} MiB, md 1.0 RAID-1 "esp" member, image ESP bytes), ` +
        `NVRAM ${boot.map((e) => `${e.name} "${e.description}" → ${e.loader}`).join(', ')}`,
    );
  }
  expect(arrays.size, 'both ESPs belong to one mirror').toBe(1);
  return lines;
}
