// The ramdisk image (make image): a second build from the same inputs gives the same bytes,
// the manifest describes what was built, and every tool the agent calls is in the initramfs.
// Building takes minutes (zstd -19 of ~180 MiB), so this runs from `make image-test` (which
// builds dist/image first and sets RAMDISK_AGENT_IMAGE_TEST=required; .ci/run calls it) and
// is skipped by a plain `make test`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..', '..');
const built = join(repo, 'dist', 'image');
const wanted = process.env.RAMDISK_AGENT_IMAGE_TEST;
const required = wanted === 'required';

function skipReason(): string | undefined {
  if (!wanted) return 'the image test runs from make image-test (it builds the image: minutes)';
  const reason = !existsSync(join(built, 'manifest.json'))
    ? 'no dist/image (run make image-test, which builds it first)'
    : process.getuid?.() !== 0
      ? 'the image build needs root (mknod of /dev/console)'
      : undefined;
  if (reason && required) throw new Error(`RAMDISK_AGENT_IMAGE_TEST=required but ${reason}`);
  if (reason) process.stderr.write(`[image] skipped: ${reason}\n`);
  return reason;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const listLines = (file: string) =>
  readFileSync(join(repo, 'image', file), 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);

interface Manifest {
  kernel: { package: string; version: string };
  node: { package: string; version: string };
  debian_packages: Record<string, string>;
  initramfs: { compression: string; unpacked_bytes: number; rootfs_kib: number; min_ram_mib: number };
  files: Record<string, { bytes: number; sha256: string }>;
}

describe.skipIf(skipReason() !== undefined)('the ramdisk image', () => {
  // Made when the suite runs, not when it is collected: a skipped suite is still collected, and
  // a clean checkout has no dist/image to read.
  let second = '';
  let manifest: Manifest;
  beforeAll(() => {
    second = mkdtempSync(join(tmpdir(), 'ramdisk-image-test-'));
    manifest = JSON.parse(readFileSync(join(built, 'manifest.json'), 'utf8')) as Manifest;
  });
  afterAll(() => {
    if (second) rmSync(second, { recursive: true, force: true });
  });

  it('a rebuild from the same inputs has the same sha256 for every output', () => {
    execFileSync(join(repo, 'image', 'build.sh'), [join(second, 'image')], { stdio: 'inherit', timeout: 900_000 });
    for (const name of ['ramdisk-agent.kernel', 'ramdisk-agent.initramfs', 'boot.ipxe', 'manifest.json']) {
      expect(sha256(join(second, 'image', name)), name).toBe(sha256(join(built, name)));
    }
  }, 900_000);

  it('the manifest names the kernel package, node and Debian package versions and hashes each output', () => {
    const versions = readFileSync(join(repo, 'image', 'versions.env'), 'utf8');
    expect(versions).toContain(`KPKG=${manifest.kernel.package}`);
    expect(versions).toContain(`NODE_VERSION=${manifest.node.version}`);
    expect(manifest.kernel.version).toMatch(/^6\.1\.\d+/);
    for (const pkg of ['busybox-static', 'util-linux', 'mdadm', 'udev', 'iproute2']) {
      expect(manifest.debian_packages[pkg], pkg).toMatch(/\d/);
    }
    for (const [name, { bytes, sha256: digest }] of Object.entries(manifest.files)) {
      expect(digest, name).toBe(sha256(join(built, name)));
      expect(bytes, name).toBe(readFileSync(join(built, name)).length);
    }
    expect(Object.keys(manifest.files).sort()).toEqual(['boot.ipxe', 'ramdisk-agent.initramfs', 'ramdisk-agent.kernel']);
    expect(manifest.initramfs.compression).toBe('zstd');
    // The least RAM the kernel can unpack the image in; make e2e boots it in 512 MiB.
    const { rootfs_kib: rootfsKib, min_ram_mib: minRam } = manifest.initramfs;
    expect(rootfsKib * 1024).toBeGreaterThan(manifest.initramfs.unpacked_bytes * 0.95);
    expect(minRam).toBe(Math.ceil((2 * rootfsKib + manifest.files['ramdisk-agent.initramfs']!.bytes / 1024) / 1024) + 64);
    expect(minRam).toBeLessThanOrEqual(512);
  });

  it('the initramfs holds /init, the agent, node, every tool of tools.list and every module of modules.list', () => {
    const listing = execFileSync('sh', ['-c', `zstd -dc "${join(built, 'ramdisk-agent.initramfs')}" | cpio -t --quiet`], {
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    });
    const files = new Set(listing.split('\n').map((line) => line.replace(/^\.\//, '/').replace(/^(?!\/)/, '/')));
    expect(listing.length).toBeGreaterThan(0);
    for (const path of ['/init', '/etc/inittab', '/usr/bin/node', '/usr/bin/busybox', '/opt/ramdisk-agent/bin/ramdisk-agent']) {
      expect(files.has(path), path).toBe(true);
    }
    expect(files.has('/opt/ramdisk-agent/dist/ramdisk-agent.mjs')).toBe(true);
    for (const manager of ['generic-disk-erase', 'image-writer', 'software-raid']) {
      expect(files.has(`/opt/ramdisk-agent/dist/hardware-managers/${manager}/index.mjs`), manager).toBe(true);
    }
    for (const tool of listLines('tools.list')) {
      const found = tool.startsWith('/')
        ? files.has(tool.replace(/^\/(bin|sbin|lib|lib64)\//, '/usr/$1/'))
        : files.has(`/usr/bin/${tool}`) || files.has(`/usr/sbin/${tool}`);
      expect(found, `tools.list: ${tool}`).toBe(true);
    }
    const modules = [...files].filter((f) => f.endsWith('.ko')).map((f) => f.replace(/^.*\//, '').replace(/\.ko$/, ''));
    const normalize = (name: string) => name.replace(/-/g, '_');
    const shipped = new Set(modules.map(normalize));
    for (const module of listLines('modules.list')) {
      expect(shipped.has(normalize(module)), `modules.list: ${module}`).toBe(true);
    }
  });
});
