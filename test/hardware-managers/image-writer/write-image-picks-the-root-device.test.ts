/**
 * Which disk the image goes to, among several allow-listed loop devices: the node's root
 * device hints (instance_info first, then properties), or without hints the smallest disk
 * of at least 4 GiB; never a disk the guard refuses or one too small, and never another disk
 * in the place of a refused one; a clear DeviceNotFound when nothing matches.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { canUseLoopDevices, type ScratchDevice } from '../../helpers/loop-devices.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildMbrImage, readRange, type TestImage } from './test-images.js';

const MBR_SIGNATURE = Buffer.from([0x55, 0xaa]);

/** The allow-listed disks of the file, with what the tests ask of all of them. */
interface Candidates {
  small: ScratchDevice; // 1 GiB: below IPA's 4 GiB minimum
  mid: ScratchDevice; // 5 GiB
  large: ScratchDevice; // 6 GiB
  smallest4g: ScratchDevice; // 4.5 GiB
  all(): ScratchDevice[];
  /** The disks holding an MBR signature: those the image went to. */
  written(): string[];
  zeroAll(): void;
}

const it = imageWriterTest.extend<{ image: TestImage; url: string; candidates: Candidates }>({
  image: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir, 8, false)), { scope: 'file' }],
  url: [async ({ server, image }, use) => use(server.serveFile('hinted.raw', image.path)), { scope: 'file' }],
  candidates: [
    async ({ scratch }, use) => {
      const small = scratch.create({ sizeMiB: 1024 });
      const large = scratch.create({ sizeMiB: 6144 });
      const smallest4g = scratch.create({ sizeMiB: 4608 });
      const mid = scratch.create({ sizeMiB: 5120 });
      const all = () => [small, mid, large, smallest4g];
      await use({
        small,
        mid,
        large,
        smallest4g,
        all,
        written: () =>
          all()
            .filter((d) => readRange(d.path, 510, 512).equals(MBR_SIGNATURE))
            .map((d) => d.path),
        zeroAll: () => {
          for (const d of all()) writeFileSync(d.path, Buffer.alloc(4096));
        },
      });
    },
    { scope: 'file' },
  ],
});

describe.skipIf(!canUseLoopDevices())('write_image root device selection', () => {
  it('without hints writes the smallest disk of at least 4 GiB', async ({
    url,
    image,
    startAgent,
    candidates: { smallest4g, all, written, zeroAll },
  }) => {
    zeroAll();
    const harness = await startAgent(all().map((d) => d.path));
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(written()).toEqual([smallest4g.path]);
    expect(outcome.body.command_result.deploy_result.device).toBe(smallest4g.path);
    // IPA's deploy_result: prepare_image's command result.
    expect(outcome.body.command_result.deploy_result.result).toMatch(
      new RegExp(`^prepare_image: image \\(\\S+\\) written to device ${smallest4g.path} root_uuid=0x[0-9a-f]{8}$`),
    );
  });

  it('follows instance_info.root_device size and name hints, with operators', async ({
    url,
    image,
    startAgent,
    candidates: { mid, large, all, written, zeroAll },
  }) => {
    zeroAll();
    const harness = await startAgent(all().map((d) => d.path));
    const bySize = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: { root_device: { size: '>= 6' } } },
    });
    expect(bySize.status, JSON.stringify(bySize.body.command_error)).toBe('SUCCEEDED');
    expect(written()).toEqual([large.path]);

    zeroAll();
    const byName = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: {}, properties: { root_device: { name: mid.path } } },
    });
    expect(byName.status, JSON.stringify(byName.body.command_error)).toBe('SUCCEEDED');
    expect(written()).toEqual([mid.path]);
  });

  it('fails with DeviceNotFound, writing nothing, when no disk matches the hints', async ({
    url,
    image,
    startAgent,
    candidates: { all, written, zeroAll },
  }) => {
    zeroAll();
    const harness = await startAgent(all().map((d) => d.path));
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: { root_device: { size: 100 } } },
    });
    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('DeviceNotFound');
    expect(outcome.body.command_error.details).toMatch(/No suitable device was found for deployment using these hints/);
    expect(written()).toEqual([]);
  });

  it('names the hinted disk and why it was refused when it exists but may not be written', async ({
    url,
    image,
    startAgent,
    candidates: { small, mid, written, zeroAll },
  }) => {
    zeroAll();
    const harness = await startAgent([small.path]);
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: { root_device: { name: mid.path } } },
    });
    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('DeviceNotFound');
    expect(outcome.body.command_error.details).toBe(
      `No suitable device was found for deployment using these hints {'name': '${mid.path}'}; ` +
        `matching but refused: ${mid.path}: not in the allow-list (outside a ramdisk only allow-listed devices are touched)`,
    );
    expect(written()).toEqual([]);
  });

  it('fails, writing nothing, when the disk it would choose is busy: never the next larger disk in its place', async ({
    url,
    image,
    startAgent,
    candidates: { smallest4g, all, written, zeroAll },
  }) => {
    zeroAll();
    // A writer the agent did not start holds the disk IPA's choice (no hints) would be.
    const stranger = spawn('sh', ['-c', `exec 3>>${smallest4g.path}; exec sleep 60`], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const harness = await startAgent(all().map((d) => d.path));
      const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));
      expect(outcome.status).toBe('FAILED');
      expect(outcome.body.command_error.type).toBe('DeviceNotFound');
      expect(outcome.body.command_error.details).toMatch(
        new RegExp(
          `^The install device ${smallest4g.path} \\(the smallest disk of at least 4 GiB\\) cannot be written: .*open for writing: pid ${stranger.pid}`,
        ),
      );
      expect(written()).toEqual([]);
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it('never picks a disk outside the allow-list, and says why nothing qualifies', async ({
    url,
    image,
    startAgent,
    candidates: { small, written, zeroAll },
  }) => {
    zeroAll();
    const harness = await startAgent([small.path]);
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('DeviceNotFound');
    expect(outcome.body.command_error.details).toMatch(/smaller than 4294967296B/);
    expect(written()).toEqual([]);
  });
});
