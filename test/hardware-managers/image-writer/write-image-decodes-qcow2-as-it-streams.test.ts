/**
 * write_image decodes a qcow2 onto the disk as it downloads: through the HTTP API as Ironic
 * calls it, from a real HTTP server onto a real loop device that held other bytes, the
 * device's [0, virtual size) ends up byte for byte what `qemu-img convert -O raw` reads from
 * the same image, for every layout qemu-img and qemu-io make. What the decoder does not
 * handle goes the qemu-img way and still lands right, saying why in the method; a backing
 * file is refused as that way refuses it.
 */
import { describe, expect } from 'vitest';
import type { ServeOptions } from '../../helpers/image-server.js';
import { canUseLoopDevices, type ScratchDevice } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage, type StepOutcome } from './harness.js';
import { type ImageWriterFixtures, imageWriterTest as it } from './image-writer-lab.js';
import {
  holeyRawDisk,
  l2AfterDataQcow2,
  qcow2Of,
  qemuIo,
  qemuReads,
  run,
  setIncompatibleBits,
  SIZES,
} from './qcow2-test-images.js';
import { readRange, sha256Of } from './test-images.js';

const { MIB } = SIZES;
const DISK_MIB = 128;

type Fixtures = Pick<ImageWriterFixtures, 'disks' | 'server' | 'startAgent' | 'scratch'>;

/** A device full of random bytes, the image written onto it, the outcome. */
async function writeQcow2({ disks, server, startAgent }: Fixtures, qcow2: string, serve: ServeOptions = {}) {
  const device = disks.create({ sizeMiB: DISK_MIB, randomMiB: DISK_MIB });
  const harness = await startAgent([device.path]);
  const name = qcow2.split('/').pop()!;
  const url = server.serveFile(name, qcow2, serve);
  const outcome = await runWriteImage(harness.client, imageInfo(url, sha256Of(qcow2), { disk_format: 'qcow2' }), {
    node: { instance_info: { root_device: { name: device.path } } },
  });
  return { device, outcome };
}

function expectQemuImgBytes(device: ScratchDevice, qcow2: string, outcome: StepOutcome): void {
  expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
  const reference = qemuReads(qcow2);
  const written = readRange(device.path, 0, reference.length);
  expect(written.length).toBe(reference.length);
  expect(written.equals(reference)).toBe(true);
}

describe.skipIf(!canUseLoopDevices())('write_image decodes a qcow2 onto the disk as it streams', () => {
  it.for([
    ['512-byte clusters, compat 1.1', 'cluster_size=512,compat=1.1', false],
    ['64 KiB clusters, compat 0.10', 'cluster_size=65536,compat=0.10', false],
    ['2 MiB clusters', 'cluster_size=2097152', false],
    ['compressed, 64 KiB clusters', 'cluster_size=65536', true],
    ['compressed, 512-byte clusters', 'cluster_size=512', true],
    ['metadata preallocated', 'preallocation=metadata', false],
  ] as const)(
    '%s: the device reads as qemu-img reads the image',
    async ([name, options, compress], { disks, server, startAgent, scratch }) => {
      const fixtures = { disks, server, startAgent, scratch };
      const raw = holeyRawDisk(fixtures.scratch.dir, `disk-${name.replace(/\W+/g, '-')}`, 6 * MIB + 1536);
      const qcow2 = qcow2Of(raw, name.replace(/\W+/g, '-'), options, compress);
      const { device, outcome } = await writeQcow2(fixtures, qcow2);
      expectQemuImgBytes(device, qcow2, outcome);
      expect(outcome.body.command_result.deploy_result.write_method).toBe('qcow2-stream');
    },
  );

  it('zero clusters, an overwritten snapshot, lazy refcounts left dirty, large holes the device zeroes', async ({
    disks,
    server,
    startAgent,
    scratch,
  }) => {
    const fixtures = { disks, server, startAgent, scratch };
    const raw = holeyRawDisk(fixtures.scratch.dir, 'disk-mixed', 6 * MIB);
    const zeroed = qcow2Of(raw, 'zeroed', 'cluster_size=65536,compat=1.1,lazy_refcounts=on');
    qemuIo(zeroed, 'write -z 64k 128k', 'write -z 1m 1m', 'write -z -u 3m 320k');
    run('qemu-img', ['snapshot', '-c', 'before', zeroed]);
    qemuIo(zeroed, 'write -P 0x5a 64k 256k', 'write -P 0x11 5m 4k', 'discard 4m 64k');
    setIncompatibleBits(zeroed, 1n); // dirty, as lazy refcounts leave an image after a crash
    let { device, outcome } = await writeQcow2(fixtures, zeroed);
    expectQemuImgBytes(device, zeroed, outcome);
    expect(outcome.body.command_result.deploy_result.write_method).toBe('qcow2-stream');

    // 100 MiB with data only at both ends: the holes between go to BLKZEROOUT.
    const sparse = qcow2Of(raw, 'sparse', 'cluster_size=65536');
    run('qemu-img', ['resize', '-q', sparse, '100M']);
    qemuIo(sparse, 'write -P 0x77 99m 512k');
    // Served slowly enough for progress to be published while it downloads.
    ({ device, outcome } = await writeQcow2(fixtures, sparse, { bytesPerSecond: 6 * MIB }));
    expectQemuImgBytes(device, sparse, outcome);
    expect(outcome.body.command_result.deploy_result.write_method).toBe('qcow2-stream');
    const downloading = outcome.progress.filter((p) => p.stage === 'downloading' && p.bytes_downloaded > 0);
    expect(downloading.length).toBeGreaterThan(1);
    expect(downloading.at(-1).bytes_written).toBeGreaterThan(0);
    expect(downloading.at(-1).bytes_written).toBeLessThanOrEqual(downloading.at(-1).bytes_downloaded);
  });

  it('decodes again from the start when the download starts over, and verifies the checksum as the raw path does', async ({
    disks,
    server,
    startAgent,
    scratch,
  }) => {
    const fixtures = { disks, server, startAgent, scratch };
    const raw = holeyRawDisk(fixtures.scratch.dir, 'disk-restart', 6 * MIB);
    const qcow2 = qcow2Of(raw, 'restarted', 'cluster_size=65536', true);
    const device = fixtures.disks.create({ sizeMiB: DISK_MIB, randomMiB: DISK_MIB });
    const harness = await fixtures.startAgent([device.path]);
    const size = readRange(qcow2, 0, 64 * MIB).length;
    // The first cut answer is the format probe, which reads only the header.
    const url = fixtures.server.serveFile('restarted.qcow2', qcow2, {
      truncateAfter: Math.floor(size / 2),
      truncateTimes: 2,
      ignoreRange: true,
    });
    const node = { instance_info: { root_device: { name: device.path } } };
    let outcome = await runWriteImage(harness.client, imageInfo(url, sha256Of(qcow2), { disk_format: 'qcow2' }), { node });
    expectQemuImgBytes(device, qcow2, outcome);
    expect(outcome.body.command_result.deploy_result.write_method).toBe('qcow2-stream');
    expect(outcome.body.command_result.deploy_result.download.requests).toBe(2);

    const wrong = 'f'.repeat(64);
    const plain = fixtures.server.serveFile('plain.qcow2', qcow2);
    outcome = await runWriteImage(harness.client, imageInfo(plain, wrong, { disk_format: 'qcow2' }), { node });
    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('ImageChecksumError');
    expect(outcome.body.command_error.details).toContain(sha256Of(qcow2));
  });
});

describe.skipIf(!canUseLoopDevices())('a qcow2 the decoder does not take goes the qemu-img way, with the reason', () => {
  it.for([
    ['extended L2 entries', 'extended_l2=on,cluster_size=65536', /^qcow2-in-place \(not streamed: extended L2 entries/],
    ['zstd compression', 'compression_type=zstd', /^qcow2-in-place \(not streamed: compression type zstd\)$/],
  ] as const)('%s', async ([name, options, method], { disks, server, startAgent, scratch }) => {
    const fixtures = { disks, server, startAgent, scratch };
    const raw = holeyRawDisk(fixtures.scratch.dir, `disk-${name.replace(/\W+/g, '-')}`, 6 * MIB);
    const qcow2 = qcow2Of(raw, name.replace(/\W+/g, '-'), options, name.startsWith('zstd'));
    const { device, outcome } = await writeQcow2(fixtures, qcow2);
    expectQemuImgBytes(device, qcow2, outcome);
    expect(outcome.body.command_result.deploy_result.write_method).toMatch(method);
  });

  it('an L2 table after more data than is held: given up while streaming, converted from the start', async ({
    disks,
    server,
    startAgent,
    scratch,
  }) => {
    const fixtures = { disks, server, startAgent, scratch };
    const qcow2 = l2AfterDataQcow2(fixtures.scratch.dir, 'l2-after-data', 600); // 37.5 MiB before its L2 table
    const { device, outcome } = await writeQcow2(fixtures, qcow2);
    expectQemuImgBytes(device, qcow2, outcome);
    expect(outcome.body.command_result.deploy_result.write_method).toMatch(
      /^qcow2-in-place \(not streamed: file bytes at \d+ are mapped by a table read \d+ bytes after them, and were not held/,
    );
  });

  it('a backing file is refused, as qemu-img info finds it', async ({ disks, server, startAgent, scratch }) => {
    const fixtures = { disks, server, startAgent, scratch };
    const raw = holeyRawDisk(fixtures.scratch.dir, 'disk-base', 2 * MIB);
    const base = qcow2Of(raw, 'base', 'cluster_size=65536');
    const overlay = `${fixtures.scratch.dir}/overlay.qcow2`;
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, overlay]);
    const { outcome } = await writeQcow2(fixtures, overlay);
    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('InvalidImage');
    expect(outcome.body.command_error.details).toBe(`Image overlay.qcow2 has a backing file (${base}); refusing it`);
  });
});
