// Installs and starts ironic-python-agent 9.4.3 beside ours, from Debian's python3 packages and
// IPA's own source (no other downloads), as ../shared/reference/ipa-baseline.md describes.
//
// Safety: IPA runs standalone on 127.0.0.1 with a PATH whose first directory refuses every
// disk-writing tool and makes `udevadm settle` a no-op, so a benchmark can never let it touch
// this machine's disks (it only ever receives read-only commands here anyway).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const IPA_TAG = '9.4.3';
const PYTHON = '/usr/bin/python3'; // Debian's interpreter: the packages below are installed for it
const DEBIAN_PACKAGES = [
  'python3-pbr',
  'python3-eventlet',
  'python3-netifaces',
  'python3-oslo.config',
  'python3-oslo.concurrency',
  'python3-oslo.log',
  'python3-oslo.service',
  'python3-oslo.utils',
  'python3-pint',
  'python3-psutil',
  'python3-pyudev',
  'python3-requests',
  'python3-stevedore',
  'python3-tenacity',
  'python3-ironic-lib',
  'python3-werkzeug',
  'python3-cryptography',
  'python3-tooz',
];
// The fetched openstack/ironic-python-agent repository (with tags); IPA_SOURCE_REPO overrides.
const DEFAULT_SOURCE_REPOS = ['/work/.mirror/openstack+ironic-python-agent/repo'];
const REFUSED_TOOLS = [
  'dd',
  'shred',
  'wipefs',
  'sgdisk',
  'sfdisk',
  'parted',
  'partprobe',
  'mdadm',
  'efibootmgr',
  'blkdiscard',
  'hdparm',
  'nvme',
  'mkfs',
  'mkfs.ext4',
  'mkfs.vfat',
  'mkfs.xfs',
  'mkswap',
  'kpartx',
  'qemu-img',
  'grub-install',
  'grub2-install',
  'mount',
  'umount',
  'cryptsetup',
  'vgremove',
  'lvremove',
  'pvremove',
];

function missingPackages() {
  const result = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\n', ...DEBIAN_PACKAGES], {
    encoding: 'utf8',
  });
  const installed = new Set(
    result.stdout
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return DEBIAN_PACKAGES.filter((p) => !installed.has(p));
}

function ensurePackages() {
  let missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`Debian packages missing (run as root to install): ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, stdio: 'ignore' });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    install();
  }
  missing = missingPackages();
  if (missing.length) throw new Error(`could not install ${missing.join(' ')}`);
}

/** `[section]` → `key = value` lines of setup.cfg, as entry_points.txt wants them. */
function entryPointsFromSetupCfg(setupCfg) {
  const sections = ['ironic_python_agent.extensions', 'ironic_python_agent.hardware_managers'];
  const lines = setupCfg.split('\n');
  const start = lines.findIndex((l) => l.trim() === '[entry_points]');
  let out = '';
  let current;
  for (const line of lines.slice(start + 1)) {
    if (/^\[/.test(line)) break;
    const header = /^(\S[^=]*?)\s*=\s*$/.exec(line);
    if (header) {
      current = sections.includes(header[1]) ? header[1] : undefined;
      if (current) out += `[${current}]\n`;
    } else if (current && line.trim()) out += `${line.trim()}\n`;
  }
  return out;
}

/**
 * Prepares IPA's source tree, its egg-info (stevedore finds the extensions and hardware managers
 * through entry points), a launcher and the guard PATH. Returns how to start it, or throws with
 * the reason IPA cannot run here.
 */
export function prepareIpa() {
  const repo = [process.env.IPA_SOURCE_REPO, ...DEFAULT_SOURCE_REPOS].find((r) => r && existsSync(r));
  if (!repo) throw new Error('no ironic-python-agent git repository (set IPA_SOURCE_REPO)');
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} missing`);
  ensurePackages();

  const dir = join(process.env.BENCH_CACHE_DIR ?? join(tmpdir(), 'ramdisk-agent-bench'), `ipa-${IPA_TAG}`);
  const src = join(dir, 'src');
  if (!existsSync(join(src, 'ironic_python_agent', 'agent.py'))) {
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    const archive = execFileSync('git', ['-C', repo, 'archive', IPA_TAG], { maxBuffer: 256 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', src], { input: archive });
  }
  const eggInfo = join(src, 'ironic_python_agent.egg-info');
  mkdirSync(eggInfo, { recursive: true });
  writeFileSync(join(eggInfo, 'PKG-INFO'), `Metadata-Version: 1.2\nName: ironic-python-agent\nVersion: ${IPA_TAG}\n`);
  writeFileSync(join(eggInfo, 'entry_points.txt'), entryPointsFromSetupCfg(readFileSync(join(src, 'setup.cfg'), 'utf8')));

  const guard = join(dir, 'guard-bin');
  mkdirSync(guard, { recursive: true });
  for (const tool of REFUSED_TOOLS) {
    const path = join(guard, tool);
    writeFileSync(path, `#!/bin/sh\necho "${tool}: refused by the benchmark guard" >&2\nexit 1\n`);
    chmodSync(path, 0o755);
  }
  const udevadm = join(guard, 'udevadm');
  writeFileSync(udevadm, '#!/bin/sh\n[ "$1" = settle ] && exit 0\nexec /usr/bin/udevadm "$@"\n');
  chmodSync(udevadm, 0o755);

  // IPA 9.4's entry point hard-codes standalone=False (it would look for a conductor over
  // mDNS); the 9th positional argument of IronicPythonAgent.__init__ is `standalone`.
  const launcher = join(dir, 'run_ipa.py');
  writeFileSync(
    launcher,
    `import sys
from ironic_python_agent import agent
_init = agent.IronicPythonAgent.__init__
def _standalone_init(self, *args, **kwargs):
    args = list(args)
    args[8] = True
    _init(self, *args, **kwargs)
agent.IronicPythonAgent.__init__ = _standalone_init
from ironic_python_agent.cmd import agent as cmd
sys.exit(cmd.run())
`,
  );
  return {
    dir,
    /** argv and env to start IPA on 127.0.0.1:port, logging at INFO into logFile. */
    command(port, logFile) {
      return {
        file: PYTHON,
        args: [launcher, '--listen_host', '127.0.0.1', '--listen_port', String(port), '--log-file', logFile],
        env: {
          PATH: `${guard}:/usr/sbin:/usr/bin:/sbin:/bin`,
          PYTHONPATH: src,
          HOME: dir,
          LANG: 'C.UTF-8',
        },
      };
    },
  };
}
