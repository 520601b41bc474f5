/**
 * A whole-disk image whose root filesystem carries grub, for BIOS deploys that install the
 * image's own grub (IPA's `_install_grub2` chroots into the image and runs its
 * grub-install): built on the host from Debian packages already installed here, nothing
 * downloaded and nothing mounted. The root is merged-/usr with busybox-static for the shell
 * and the utilities grub-mkconfig uses, the files of `grub-common`, `grub2-common`,
 * `grub-pc-bin` and `gettext-base` (documentation and translations left out), mdadm, and the
 * libraries their programs link, made into ext4 by `mkfs.ext4 -d`, on partition 1 (at 1 MiB,
 * bootable) of an MBR with a non-zero disk signature; or that ext4 filesystem alone, a
 * partition image (writeGrubRootFs). It has no kernel: grub installs and
 * writes its configuration (serial console on), and booting a holder disk ends at grub's
 * own command line, printed on the serial port.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const MiB = 1024 * 1024;
const PACKAGES = ['grub-common', 'grub2-common', 'grub-pc-bin', 'gettext-base'];
const LEFT_OUT = /^\/usr\/share\/(locale|man|doc|info|lintian|bug)\//;
/**
 * grub-install names a metadata 1.x array by the UUID `mdadm --detail --export` reports
 * (`mduuid/<uuid>`); without mdadm in the image it falls back to `md0`, which grub's own md
 * driver does not know, and fails (`disk 'md0,1' not found`). Images with an md root carry it.
 * grub-install finds where a partition starts with `udevadm info --query path` and sysfs,
 * falling back to the HDIO_GETGEO ioctl, which a loop device does not answer: without
 * udevadm (every distribution image has it) grub cannot place a root on a loop device's
 * partition (`cannot find a GRUB drive for /dev/loop0p2`).
 */
const PROGRAMS = ['/usr/sbin/mdadm', '/usr/bin/udevadm'];

export interface GrubImage {
  file: string;
  sizeBytes: number;
  sha256: string;
  /** The ext4 root partition: where it is in the image and its filesystem UUID. */
  root: { startBytes: number; sizeBytes: number; uuid: string };
}

/** Why the image cannot be built here (a missing package), or undefined. */
export function missingGrubImageTools(): string | undefined {
  const missing = PACKAGES.filter((p) => {
    try {
      execFileSync('dpkg-query', ['-W', '-f=${Status}', p], { stdio: ['ignore', 'pipe', 'ignore'] });
      return false;
    } catch {
      return true;
    }
  });
  if (!existsSync('/usr/lib/grub/i386-pc/boot.img')) missing.push('grub-pc-bin');
  for (const program of PROGRAMS) if (!existsSync(program)) missing.push(program.split('/').pop()!);
  return missing.length > 0 ? `Debian packages not installed: ${[...new Set(missing)].join(', ')}` : undefined;
}

function isElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === '\x7fELF';
  } finally {
    closeSync(fd);
  }
}

/** The shared libraries (and the loader) a program links, as absolute paths on the host. */
function librariesOf(file: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // static, or not a program
  }
  return [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
}

function copyInto(root: string, hostPath: string): void {
  const target = join(root, hostPath);
  if (existsSync(target)) return;
  mkdirSync(dirname(target), { recursive: true });
  cpSync(hostPath, target, { dereference: true });
}

function buildRoot(root: string): void {
  // usr/share/locale: grub-install copies translations from there and warns when it is missing.
  for (const dir of [
    'usr/bin',
    'usr/sbin',
    'usr/lib',
    'usr/lib64',
    'usr/share/locale',
    'etc/default',
    'boot/grub',
    'dev',
    'proc',
    'run',
    'sys',
    'tmp',
  ]) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  for (const [link, to] of [
    ['bin', 'usr/bin'],
    ['sbin', 'usr/sbin'],
    ['lib', 'usr/lib'],
    ['lib64', 'usr/lib64'],
  ]) {
    symlinkSync(to!, join(root, link!));
  }
  const files = execFileSync('dpkg', ['-L', ...PACKAGES], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.startsWith('/') && !LEFT_OUT.test(f) && existsSync(f) && lstatSync(f).isFile());
  for (const file of [...files, ...PROGRAMS]) copyInto(root, file.replace(/^\/(bin|sbin|lib|lib64)\//, '/usr/$1/'));
  for (const file of [...files, ...PROGRAMS].filter(isElf)) for (const lib of librariesOf(file)) copyInto(root, lib);
  copyInto(root, '/usr/bin/busybox');
  for (const applet of execFileSync('/usr/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    const path = join(root, applet.replace(/^(bin|sbin)\//, 'usr/$1/'));
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      symlinkSync('/usr/bin/busybox', path);
    }
  }
  // grub's menu on the serial port too, where the host reads it when it boots a holder disk.
  const defaults = readFileSync('/usr/share/grub/default/grub', 'utf8');
  writeFileSync(
    join(root, 'etc/default/grub'),
    `${defaults}\nGRUB_TERMINAL="serial console"\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n`,
  );
  writeFileSync(join(root, 'etc/fstab'), '# nothing but the root to mount\n');
}

export interface GrubRootFs {
  file: string;
  sizeBytes: number;
  /** The ext4 filesystem's UUID: Ironic's root UUID once it is deployed as a partition image. */
  uuid: string;
  sha256: string;
}

/**
 * The grub root filesystem alone, as ext4 in `file`: a partition image (Ironic writes it into
 * the root partition it makes, and installs its grub on the disk).
 */
export function writeGrubRootFs(file: string, sizeMiB = 64): GrubRootFs {
  const work = mkdtempSync(join(tmpdir(), 'grub-root-'));
  try {
    const root = join(work, 'root');
    buildRoot(root);
    const sizeBytes = sizeMiB * MiB;
    const uuid = randomUUID();
    execFileSync('mkfs.ext4', ['-q', '-F', '-U', uuid, '-L', 'root', '-d', root, file, `${sizeBytes / 1024}k`]);
    return { file, sizeBytes, uuid, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function writeGrubImage(file: string, sizeMiB = 64): GrubImage {
  const work = mkdtempSync(join(tmpdir(), 'grub-image-'));
  try {
    const sizeBytes = sizeMiB * MiB;
    const start = MiB;
    const rootBytes = sizeBytes - start;
    const { uuid } = writeGrubRootFs(join(work, 'root.ext4'), rootBytes / MiB);
    writeFileSync(file, Buffer.alloc(0));
    execFileSync('truncate', ['-s', String(sizeBytes), file]);
    execFileSync('sfdisk', ['--quiet', file], {
      input: `label: dos\nlabel-id: 0x67727562\nstart=${start / 512}, type=83, bootable\n`,
    });
    const fd = openSync(file, 'r+');
    try {
      const bytes = readFileSync(join(work, 'root.ext4'));
      writeSync(fd, bytes, 0, bytes.length, start);
    } finally {
      closeSync(fd);
    }
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    return { file, sizeBytes, sha256, root: { startBytes: start, sizeBytes: rootBytes, uuid } };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
