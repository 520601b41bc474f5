/**
 * Which disk the image goes to, among several allow-listed loop devices: the node's root
 * device hints (instance_info first, then properties), or without hints the smallest disk
 * of at least 4 GiB; never a disk the guard refuses or one too small; a clear
 * DeviceNotFound when nothing matches.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canUseLoopDevices, ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';
import { ImageServer } from '../../helpers/image-server.js';
import { imageInfo, runWriteImage, startImageAgent, type ImageAgent } from './harness.js';
import { buildMbrImage, readRange, type TestImage } from './test-images.js';

const MBR_SIGNATURE = Buffer.from([0x55, 0xaa]);

describe.skipIf(!canUseLoopDevices())('write_image root device selection', () => {
  const scratch = new ScratchDevices();
  let server: ImageServer;
  let image: TestImage;
  let url: string;
  let small: ScratchDevice; // 1 GiB: below IPA's 4 GiB minimum
  let mid: ScratchDevice; // 5 GiB
  let large: ScratchDevice; // 6 GiB
  let smallest4g: ScratchDevice; // 4.5 GiB
  let harness: ImageAgent | undefined;

  beforeAll(async () => {
    server = await ImageServer.start();
    image = buildMbrImage(scratch.dir, 8, false);
    url = server.serveFile('hinted.raw', image.path);
    small = scratch.create({ sizeMiB: 1024 });
    large = scratch.create({ sizeMiB: 6144 });
    smallest4g = scratch.create({ sizeMiB: 4608 });
    mid = scratch.create({ sizeMiB: 5120 });
  });
  afterEach(async () => {
    await harness?.agent.close();
    harness = undefined;
  });
  afterAll(async () => {
    await server.close();
    scratch.cleanup();
  });

  const all = () => [small, mid, large, smallest4g];
  const written = () =>
    all()
      .filter((d) => readRange(d.path, 510, 512).equals(MBR_SIGNATURE))
      .map((d) => d.path);
  const zeroAll = async () => {
    const { writeFileSync } = await import('node:fs');
    for (const d of all()) writeFileSync(d.path, Buffer.alloc(4096));
  };

  it('without hints writes the smallest disk of at least 4 GiB', async () => {
    await zeroAll();
    harness = await startImageAgent(all().map((d) => d.path));
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(written()).toEqual([smallest4g.path]);
    expect(outcome.body.command_result.deploy_result.device).toBe(smallest4g.path);
  });

  it('follows instance_info.root_device size and name hints, with operators', async () => {
    await zeroAll();
    harness = await startImageAgent(all().map((d) => d.path));
    const bySize = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: { root_device: { size: '>= 6' } } },
    });
    expect(bySize.status, JSON.stringify(bySize.body.command_error)).toBe('SUCCEEDED');
    expect(written()).toEqual([large.path]);

    await zeroAll();
    const byName = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: {}, properties: { root_device: { name: mid.path } } },
    });
    expect(byName.status, JSON.stringify(byName.body.command_error)).toBe('SUCCEEDED');
    expect(written()).toEqual([mid.path]);
  });

  it('fails with DeviceNotFound, writing nothing, when no disk matches the hints', async () => {
    await zeroAll();
    harness = await startImageAgent(all().map((d) => d.path));
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256), {
      node: { instance_info: { root_device: { size: 100 } } },
    });
    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('DeviceNotFound');
    expect(outcome.body.command_error.details).toMatch(/No suitable device was found for deployment using these hints/);
    expect(written()).toEqual([]);
  });

  it('never picks a disk outside the allow-list, and says why nothing qualifies', async () => {
    await zeroAll();
    harness = await startImageAgent([small.path]);
    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('DeviceNotFound');
    expect(outcome.body.command_error.details).toMatch(/smaller than 4294967296B/);
    expect(written()).toEqual([]);
  });
});
