/**
 * What happens when the download goes wrong: a wrong checksum fails the step naming both
 * checksums, a cut connection is resumed with Range (or restarted when the server cannot
 * resume), a connection cut every time ends FAILED, a 4xx is not retried (the next URL is
 * tried, as IPA does), a 5xx is.
 * The command is never reported SUCCEEDED after a failed download, nor is an earlier write's
 * get_partition_uuids answer kept once the failed one changed the disk.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect } from 'vitest';
import { canUseLoopDevices, type ScratchDevice } from '../../helpers/loop-devices.js';
import { HttpProxy } from '../../helpers/http-proxy.js';
import type { ImageServer } from '../../helpers/image-server.js';
import { imageInfo, runWriteImage } from './harness.js';
import { imageWriterTest } from './image-writer-lab.js';
import { buildMbrImage, readRange, type TestImage } from './test-images.js';

const DISK_MIB = 4608;

let seq = 0;

const it = imageWriterTest.extend<{
  image: TestImage;
  disk: ScratchDevice;
  device: ScratchDevice;
  serve: (options?: Parameters<ImageServer['serveFile']>[2]) => { name: string; url: string };
  deviceMatchesImage: () => boolean;
}>({
  image: [async ({ scratch }, use) => use(buildMbrImage(scratch.dir)), { scope: 'file' }],
  disk: [async ({ scratch }, use) => use(scratch.create({ sizeMiB: DISK_MIB })), { scope: 'file' }],
  // Every test starts from a zeroed device, so "the device holds the image" proves this test's write.
  device: async ({ disk, image }, use) => {
    execFileSync('dd', [
      'if=/dev/zero',
      `of=${disk.path}`,
      'bs=1M',
      `count=${image.sizeBytes / (1024 * 1024)}`,
      'oflag=direct',
      'status=none',
    ]);
    await use(disk);
  },
  // The image under a name of its own, so each test counts only its own requests.
  serve: async ({ server, image }, use) =>
    use((options = {}) => {
      const name = `image-${++seq}.raw`;
      return { name, url: server.serveFile(name, image.path, options) };
    }),
  deviceMatchesImage: async ({ device, image }, use) =>
    use(() => readRange(device.path, 0, image.sizeBytes).equals(readRange(image.path, 0, image.sizeBytes))),
});

describe.skipIf(!canUseLoopDevices())('write_image download failures', () => {
  it('fails a wrong checksum with ImageChecksumError naming the expected and the computed value, after retrying the download', async ({
    server,
    image,
    device,
    serve,
    startAgent,
  }) => {
    const harness = await startAgent([device.path], { imageDownloadConnectionRetries: 1 });
    const { name, url } = serve();
    const wrong = 'a'.repeat(64);

    const outcome = await runWriteImage(harness.client, imageInfo(url, wrong));

    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_result).toBeNull();
    expect(outcome.body.command_error.type).toBe('ImageChecksumError');
    expect(outcome.body.command_error.details).toContain(`image checksum: ${wrong}`);
    expect(outcome.body.command_error.details).toContain(`verification checksum: ${image.sha256}`);
    // IPA retries the whole download on a mismatch: 1 + retries downloads.
    expect(server.requestsFor(name).length).toBe(2);
    // The unverified image must not look bootable: its partition table is gone.
    expect(readRange(device.path, 510, 512).equals(Buffer.from([0x55, 0xaa]))).toBe(false);
  });

  it('forgets the previous write once a failed one has changed the disk: get_partition_uuids answers {}', async ({
    image,
    device,
    serve,
    startAgent,
  }) => {
    const harness = await startAgent([device.path], { imageDownloadConnectionRetries: 0 });
    const good = await runWriteImage(harness.client, imageInfo(serve().url, image.sha256));
    expect(good.status, JSON.stringify(good.body.command_error)).toBe('SUCCEEDED');
    const uuids = async () => (await harness.client.post('standby.get_partition_uuids', {}, true)).body.command_result;
    expect((await uuids())['root uuid']).toBe('0x1a2b3c4d');

    const bad = await runWriteImage(harness.client, imageInfo(serve().url, 'a'.repeat(64)));

    expect(bad.body.command_error.type).toBe('ImageChecksumError');
    // The disk signature those UUIDs named was wiped with the unverified image.
    expect(await uuids()).toEqual({});
  });

  it('verifies a legacy sha512 `checksum` and an md5 one by their length', async ({
    image,
    device,
    serve,
    deviceMatchesImage,
    startAgent,
  }) => {
    const harness = await startAgent([device.path]);
    const data = readFileSync(image.path);
    const { url } = serve();
    const sha512 = createHash('sha512').update(data).digest('hex');
    const ok = await runWriteImage(
      harness.client,
      imageInfo(url, '', { os_hash_algo: undefined, os_hash_value: undefined, checksum: sha512 }),
    );
    expect(ok.status).toBe('SUCCEEDED');
    expect(ok.body.command_result.deploy_result.checksum.algorithm).toBe('sha512');
    expect(deviceMatchesImage()).toBe(true);

    const md5 = createHash('md5').update(data).digest('hex');
    const second = serve();
    const viaMd5 = await runWriteImage(
      harness.client,
      imageInfo(second.url, '', { os_hash_algo: undefined, os_hash_value: undefined, checksum: md5 }),
    );
    expect(viaMd5.status).toBe('SUCCEEDED');
    expect(viaMd5.body.command_result.deploy_result.checksum.algorithm).toBe('md5');
  });

  it('takes the checksum from a checksum file URL, finding the line for the image name', async ({
    server,
    image,
    device,
    serve,
    deviceMatchesImage,
    startAgent,
  }) => {
    const harness = await startAgent([device.path]);
    const { name, url } = serve();
    const sums = `# SHA256 sums\n${'b'.repeat(64)}  other.raw\n${image.sha256}  ${name}\n`;
    const sumsUrl = server.serveBuffer(`SHA256SUMS-${seq}`, sums);

    const outcome = await runWriteImage(
      harness.client,
      imageInfo(url, '', { os_hash_algo: undefined, os_hash_value: undefined, checksum: sumsUrl }),
    );

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(deviceMatchesImage()).toBe(true);
  });

  it('resumes a cut download with Range/If-Range from the last byte received and writes the exact image', async ({
    server,
    image,
    device,
    serve,
    deviceMatchesImage,
    startAgent,
  }) => {
    const harness = await startAgent([device.path]);
    const cutAt = 5 * 1024 * 1024 + 12345;
    const { name, url } = serve({ truncateAfter: cutAt, truncateTimes: 1 });

    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    const requests = server.requestsFor(name);
    expect(requests.map((r) => r.range)).toEqual([undefined, `bytes=${cutAt}-`]);
    expect(requests[1]!.ifRange).toBeTruthy();
    expect(requests[1]!.status).toBe(206);
    expect(outcome.body.command_result.deploy_result.download).toMatchObject({ resumes: 1, rounds: 1 });
    expect(deviceMatchesImage()).toBe(true);
  });

  it('starts over from byte 0 when the server cannot resume, and still writes the exact image', async ({
    server,
    image,
    device,
    serve,
    deviceMatchesImage,
    startAgent,
  }) => {
    const harness = await startAgent([device.path]);
    const { name, url } = serve({ truncateAfter: 3 * 1024 * 1024, truncateTimes: 1, ignoreRange: true });

    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(server.requestsFor(name).map((r) => r.status)).toEqual([200, 200]);
    expect(deviceMatchesImage()).toBe(true);
  });

  it('fails with ImageDownloadError when every attempt is cut short: never SUCCEEDED', async ({
    server,
    image,
    device,
    serve,
    startAgent,
  }) => {
    const harness = await startAgent([device.path], { imageDownloadConnectionRetries: 2 });
    const { name, url } = serve({ truncateAfter: 1024 * 1024 });

    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));

    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('ImageDownloadError');
    expect(outcome.body.command_error.details).toMatch(/Download of image image-\d+\.raw failed: .*after 3 attempts\)/);
    expect(server.requestsFor(name).length).toBe(3);
    const list = await harness.client.list();
    expect(list.body.commands.every((c: any) => c.command_status !== 'SUCCEEDED')).toBe(true);
  });

  it('does not retry a 404 (fatal, as IPA) and retries 503s until the image comes', async ({
    server,
    image,
    device,
    serve,
    startAgent,
  }) => {
    const harness = await startAgent([device.path], { imageDownloadConnectionRetries: 3 });
    const missing = await runWriteImage(harness.client, imageInfo(server.url('no-such-image.raw'), image.sha256));
    expect(missing.status).toBe('FAILED');
    expect(missing.body.command_error.details).toMatch(/Received status code 404/);
    expect(server.requestsFor('no-such-image.raw').length).toBe(1);

    const { name, url } = serve({ failFirst: { count: 2, status: 503 } });
    const flaky = await runWriteImage(harness.client, imageInfo(url, image.sha256));
    expect(flaky.status, JSON.stringify(flaky.body.command_error)).toBe('SUCCEEDED');
    expect(server.requestsFor(name).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('moves on to the next URL after a 404, as IPA, and names every URL when none works', async ({
    server,
    image,
    device,
    serve,
    deviceMatchesImage,
    startAgent,
  }) => {
    const harness = await startAgent([device.path], { imageDownloadConnectionRetries: 3 });
    const { name, url } = serve();
    const missing = server.url('moved-away.raw');
    const moved = await runWriteImage(harness.client, imageInfo(url, image.sha256, { urls: [missing, url] }));
    expect(moved.status, JSON.stringify(moved.body.command_error)).toBe('SUCCEEDED');
    expect(server.requestsFor('moved-away.raw').map((r) => r.status)).toEqual([404]);
    expect(server.requestsFor(name).map((r) => r.status)).toEqual([200]);
    expect(deviceMatchesImage()).toBe(true);

    const gone = server.url('gone-too.raw');
    const none = await runWriteImage(harness.client, imageInfo(missing, image.sha256, { urls: [missing, gone] }));
    expect(none.status).toBe('FAILED');
    expect(none.body.command_error.type).toBe('ImageDownloadError');
    expect(none.body.command_error.details).toMatch(/moved-away\.raw.*404[^]*gone-too\.raw.*404/);
  });

  it('goes through the proxy image_info names, and around it for no_proxy hosts', async ({
    image,
    device,
    serve,
    deviceMatchesImage,
    startAgent,
  }) => {
    const proxy = await HttpProxy.start();
    try {
      const harness = await startAgent([device.path]);
      const { url } = serve();
      const through = await runWriteImage(harness.client, imageInfo(url, image.sha256, { proxies: { http: proxy.url } }));
      expect(through.status, JSON.stringify(through.body.command_error)).toBe('SUCCEEDED');
      expect(proxy.seen).toContain(`GET ${url}`);
      expect(deviceMatchesImage()).toBe(true);

      proxy.seen.length = 0;
      const second = serve();
      const around = await runWriteImage(
        harness.client,
        imageInfo(second.url, image.sha256, { proxies: { http: proxy.url }, no_proxy: '127.0.0.1' }),
      );
      expect(around.status, JSON.stringify(around.body.command_error)).toBe('SUCCEEDED');
      expect(proxy.seen).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("sends a proxy's credentials to the proxy only, never on to the image server", async ({
    server,
    image,
    device,
    serve,
    startAgent,
  }) => {
    const proxy = await HttpProxy.start();
    try {
      const harness = await startAgent([device.path]);
      const { name, url } = serve();
      const proxyWithCredentials = proxy.url.replace('http://', 'http://proxy-user:proxy-secret@');
      const outcome = await runWriteImage(
        harness.client,
        imageInfo(url, image.sha256, { proxies: { http: proxyWithCredentials } }),
      );
      expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
      expect(proxy.seen).toContain(`GET ${url}`);
      expect(server.requestsFor(name).map((r) => r.authorization)).toEqual([undefined]);
    } finally {
      await proxy.close();
    }
  });

  it('sends credentials written in the image URL as HTTP basic, as IPA (requests) does', async ({
    image,
    device,
    serve,
    deviceMatchesImage,
    startAgent,
  }) => {
    const harness = await startAgent([device.path]);
    const { url } = serve({ authorization: `Basic ${Buffer.from('image-user:pa ss').toString('base64')}` });
    const withCredentials = new URL(url);
    withCredentials.username = 'image-user';
    withCredentials.password = 'pa ss';

    const outcome = await runWriteImage(harness.client, imageInfo(withCredentials.href, image.sha256));

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(deviceMatchesImage()).toBe(true);
  });

  it('gives up with ImageDownloadError when the download outlasts image_download_max_duration', async ({
    image,
    device,
    serve,
    startAgent,
  }) => {
    const harness = await startAgent([device.path], { imageDownloadMaxDuration: 1 });
    const { url } = serve({ bytesPerSecond: 4 * 1024 * 1024 });

    const outcome = await runWriteImage(harness.client, imageInfo(url, image.sha256));

    expect(outcome.status).toBe('FAILED');
    expect(outcome.body.command_error.type).toBe('ImageDownloadError');
    expect(outcome.body.command_error.details).toMatch(/took longer than 1 s/);
  });

  it('follows redirects to the image', async ({ server, image, device, serve, deviceMatchesImage, startAgent }) => {
    const harness = await startAgent([device.path]);
    const { name, url } = serve();
    const first = server.serveRedirect(`moved-${seq}.raw`, server.serveRedirect(`moved-again-${seq}.raw`, url, 307), 301);

    const outcome = await runWriteImage(harness.client, imageInfo(first, image.sha256));

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
    expect(server.requestsFor(name).length).toBe(1);
    expect(deviceMatchesImage()).toBe(true);
  });

  it('sends the Authorization header Ironic provides (base64 of the header value)', async ({
    image,
    device,
    serve,
    startAgent,
  }) => {
    const harness = await startAgent([device.path]);
    const header = 'Bearer s3cr3t-token';
    const { url } = serve({ authorization: header });

    const outcome = await runWriteImage(
      harness.client,
      imageInfo(url, image.sha256, { image_request_authorization: Buffer.from(header).toString('base64') }),
    );

    expect(outcome.status, JSON.stringify(outcome.body.command_error)).toBe('SUCCEEDED');
  });
});
