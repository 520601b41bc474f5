// bench/erase: the erase manager's full-erase throughput beside `dd if=/dev/zero bs=4M
// oflag=direct` on the same loop device, IPA's shred beside ours with IPA's default
// settings (1 random pass + zeros), and wall time for 4 devices erased in parallel vs 1.
// Everything runs in this one process on loop devices it creates (root needed) over sparse
// files in $TMPDIR, through the built agent's HTTP API (make bench builds it first). The
// loop devices use direct I/O to their files, as a disk has no page cache in front of it.
// The files share this machine's disk with other workers, whose writes make dd's own time
// swing two- or threefold between runs: ours and dd run back to back, in alternating order,
// and the full-erase row reports the median of the per-pair ratios with their spread.
// erase_devices_metadata runs on a loop device holding a GPT with ext4 and FAT partitions,
// restored before every run, beside IPA's destroy_disk_metadata sequence on the same device
// (per partition, then the disk: wipefs, blockdev --getss/--getsize64, dd at both ends,
// sgdisk -Z, fuser), alternating who goes first.
// Before the first erase the agent is asked for its clean steps, as a conductor always does
// before it runs one (that first call loads the hardware managers).
//   BENCH_ERASE_MIB           size of the device for the full-erase rows (default 2048)
//   BENCH_ERASE_PARALLEL_MIB  size of each of the 4 devices for the parallel rows (default 256)
//   BENCH_ERASE_RUNS          dd/ours pairs for the full-erase row (default 7)
//   BENCH_ERASE_SIDE_RUNS     runs for the IPA-default and parallel rows, median reported (default 3)
//   BENCH_ERASE_ONLY          `metadata`: only the metadata rows; `full`: all but them
//   BENCH_ERASE_METADATA_RUNS runs of erase_devices_metadata and of IPA's sequence (default 5)
//   BENCH_ERASE_POLL_MS       poll the command's status this often instead of one GET ?wait=true
//                             (default 0: wait; a poll every few ms costs the agent and this
//                             client CPU that a 2-core machine takes from the erase)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, closeSync, openSync, ftruncateSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop, timeToFirstAnswer } from './lib.mjs';
import { attachDirectIoLoop } from './loop-device.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const agentBin = `${root}dist/ramdisk-agent.mjs`;
const SIZE_MIB = Number(process.env.BENCH_ERASE_MIB ?? 2048);
const PARALLEL_MIB = Number(process.env.BENCH_ERASE_PARALLEL_MIB ?? 256);
const RUNS = Number(process.env.BENCH_ERASE_RUNS ?? 7);
const SIDE_RUNS = Number(process.env.BENCH_ERASE_SIDE_RUNS ?? 3);
const POLL_MS = Number(process.env.BENCH_ERASE_POLL_MS ?? 0);
const ONLY = process.env.BENCH_ERASE_ONLY;
const METADATA_RUNS = Number(process.env.BENCH_ERASE_METADATA_RUNS ?? 5);
const METADATA_MIB = 64;
const SIZE = SIZE_MIB * 1024 * 1024;
const PORT = 19180;

if (process.getuid?.() !== 0 || !existsSync('/dev/loop-control')) {
  console.log('erase bench skipped: it needs root and loop devices');
  process.exit(0);
}
if (SIZE_MIB % 4 !== 0 || PARALLEL_MIB % 4 !== 0)
  throw new Error('BENCH_ERASE_MIB and BENCH_ERASE_PARALLEL_MIB must be multiples of 4');
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spread = (values) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
const mibps = (bytes, ms) => bytes / (1024 * 1024) / (ms / 1000);
const fmt = (n, digits = 0) => n.toFixed(digits).padStart(8);

const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-bench-erase-'));
const loops = [];
let agent;

function makeLoop(i, mib) {
  const file = join(dir, `disk-${i}.img`);
  const fd = openSync(file, 'w');
  ftruncateSync(fd, mib * 1024 * 1024);
  closeSync(fd);
  const path = attachDirectIoLoop(file);
  loops.push(path);
  return path;
}

function timed(fn) {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

function run(cmd, args) {
  const result = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${result.stderr}`);
}

/** The baseline for parallel erasure: one dd per device, all started at once. */
function ddInParallel(devices) {
  const started = performance.now();
  return Promise.all(
    devices.map(
      (d) =>
        new Promise((resolve, reject) => {
          const child = spawn('dd', [
            'if=/dev/zero',
            `of=${d}`,
            'bs=4M',
            `count=${PARALLEL_MIB / 4}`,
            'oflag=direct',
            'status=none',
          ]);
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dd on ${d} exited ${code}`))));
        }),
    ),
  ).then(() => performance.now() - started);
}

async function eraseOverHttp(devices, skip, driverInternalInfo, step = 'erase_devices') {
  const node = {
    uuid: 'b8f5f0a3-1c0e-4a84-8a8c-6f0bb2b9d0a1',
    properties: { skip_block_devices: skip.map((name) => ({ name })) },
    instance_info: {},
    driver_internal_info: driverInternalInfo,
  };
  const started = performance.now();
  const posted = await fetch(`http://127.0.0.1:${PORT}/v1/commands/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'clean.execute_clean_step',
      params: { step: { step, interface: 'deploy', priority: 10 }, node, ports: [] },
    }),
  }).then((r) => r.json());
  for (;;) {
    const wait = POLL_MS > 0 ? '' : '?wait=true';
    const body = await fetch(`http://127.0.0.1:${PORT}/v1/commands/${posted.id}${wait}`).then((r) => r.json());
    if (body.command_status !== 'RUNNING') {
      const ms = performance.now() - started;
      if (body.command_status !== 'SUCCEEDED') throw new Error(`erase failed: ${JSON.stringify(body.command_error)}`);
      const report = body.command_result.clean_result.devices;
      for (const d of devices) if (!report[d]?.verify?.passed) throw new Error(`no verified report for ${d}`);
      return {
        ms,
        stepSeconds: Math.max(...devices.map((d) => report[d].duration_seconds)),
        eraseSeconds: Math.max(...devices.map((d) => report[d].erase_seconds)),
      };
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function output(cmd, args) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.trim();
}

/** IPA's disk_utils.destroy_disk_metadata on one device (reference §8.3). */
function ipaDestroyDiskMetadata(device) {
  run('wipefs', ['--force', '--all', device]);
  const sectorSize = Number(output('blockdev', ['--getss', device]));
  const size = Number(output('blockdev', ['--getsize64', device]));
  const sectors = sectorSize === 512 ? 33 : 5;
  const dd = (seek) => [`bs=${sectorSize}`, 'if=/dev/zero', `of=${device}`, `count=${sectors}`, `seek=${seek}`, 'oflag=direct'];
  run('dd', dd(0));
  run('dd', dd(size / sectorSize - sectors));
  run('sgdisk', ['-Z', device]);
  // fuser exits 1 when no process holds the device: IPA's wait ends at once.
  spawnSync('fuser', [device], { stdio: 'ignore' });
}

/**
 * A GPT with an ext4 and a FAT partition, saved once and written back before each run; the
 * kernel's partition entries are re-added (loop devices here do not scan partitions).
 */
function partitionedTemplate(device) {
  // A loop device's partition entries outlive a detach: a previous user's may still be there.
  spawnSync('partx', ['--delete', device], { stdio: 'ignore' });
  run('sgdisk', ['-n1:0:+16M', '-n2:0:+16M', device]);
  run('partx', ['-a', device]);
  run('mkfs.ext4', ['-q', '-F', `${device}p1`]);
  run('mkfs.vfat', [`${device}p2`]);
  const template = join(dir, 'gpt-template.img');
  run('dd', [`if=${device}`, `of=${template}`, 'bs=4M', 'iflag=direct', 'status=none']);
  return () => {
    spawnSync('partx', ['--delete', device], { stdio: 'ignore' });
    run('dd', [`if=${template}`, `of=${device}`, 'bs=4M', 'oflag=direct', 'conv=notrunc', 'status=none']);
    run('partx', ['-a', device]);
  };
}

/** A standalone agent with only the erase manager, allowed to write `devices`. */
async function startAgent(devices) {
  const { child } = await timeToFirstAnswer(
    process.execPath,
    [
      agentBin,
      'agent',
      '--standalone',
      '--listen',
      `127.0.0.1:${PORT}`,
      '--log-level',
      'warn',
      '--cmdline',
      '/dev/null',
      '--no-shipped-managers',
      '--hardware-manager-path',
      `${root}dist/hardware-managers/generic-disk-erase`,
      ...devices.flatMap((d) => ['--allow-device', d]),
    ],
    `http://127.0.0.1:${PORT}/v1/status`,
  );
  return child;
}

/** What a conductor asks before it runs any clean step. */
async function getCleanSteps() {
  const posted = await fetch(`http://127.0.0.1:${PORT}/v1/commands/?wait=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'clean.get_clean_steps',
      params: { node: { uuid: 'b8f5f0a3-1c0e-4a84-8a8c-6f0bb2b9d0a1' }, ports: [] },
    }),
  }).then((r) => r.json());
  if (posted.command_status !== 'SUCCEEDED') throw new Error(`get_clean_steps failed: ${JSON.stringify(posted.command_error)}`);
}

try {
  const first = makeLoop('big', SIZE_MIB);
  const devices = [0, 1, 2, 3].map((i) => makeLoop(i, PARALLEL_MIB));
  const metaDisk = makeLoop('gpt', METADATA_MIB);
  const others = devices.slice(1);
  agent = await startAgent([first, ...devices]);
  const zeroOnly = { agent_erase_devices_iterations: 0, agent_erase_devices_zeroize: true };
  const ipaDefault = { agent_erase_devices_iterations: 1, agent_erase_devices_zeroize: true };
  await getCleanSteps();

  const skipAllBut = (keep) => [first, ...devices].filter((d) => !keep.includes(d));
  if (ONLY !== 'metadata') {
    // Warm the backing files once so every run below overwrites allocated blocks.
    const ddArgs = (device, mib) => ['if=/dev/zero', `of=${device}`, 'bs=4M', `count=${mib / 4}`, 'oflag=direct', 'status=none'];
    run('dd', ddArgs(first, SIZE_MIB));
    for (const d of devices) run('dd', ddArgs(d, PARALLEL_MIB));

    // Full erase: dd and ours back to back, who goes first alternating, so that a burst of
    // other workers' I/O falls on one pair rather than on one side.
    const pairs = [];
    for (let i = 0; i < RUNS; i++) {
      let ddMs;
      const runDd = () => (ddMs = timed(() => run('dd', ddArgs(first, SIZE_MIB))));
      if (i % 2 === 0) runDd();
      const zero = await eraseOverHttp([first], skipAllBut([first]), zeroOnly);
      if (i % 2 === 1) runDd();
      pairs.push({ dd: ddMs, http: zero.ms, step: zero.stepSeconds * 1000, erase: zero.eraseSeconds * 1000 });
      console.log(
        `  pair ${i + 1} (${i % 2 === 0 ? 'dd first' : 'ours first'}): dd ${(ddMs / 1000).toFixed(2)} s, ` +
          `erase_devices over HTTP ${(zero.ms / 1000).toFixed(2)} s = ${((100 * ddMs) / zero.ms).toFixed(0)}% of dd (load ${load()})`,
      );
    }

    const shred = [],
      oursDefault = [],
      one = [],
      four = [],
      fourSequential = [],
      fourDd = [],
      oneDd = [];
    for (let i = 0; i < SIDE_RUNS; i++) {
      const runShred = () => shred.push(timed(() => run('shred', ['--force', '--zero', '--iterations', '1', first])));
      if (i % 2 === 0) runShred();
      oursDefault.push((await eraseOverHttp([first], skipAllBut([first]), ipaDefault)).ms);
      if (i % 2 === 1) runShred();
      one.push((await eraseOverHttp([devices[0]], skipAllBut([devices[0]]), zeroOnly)).ms);
      four.push((await eraseOverHttp(devices, [first], zeroOnly)).ms);
      fourSequential.push((await eraseOverHttp(devices, [first], { ...zeroOnly, disk_erasure_concurrency: 1 })).ms);
      fourDd.push(await ddInParallel(devices));
      oneDd.push(await ddInParallel([devices[0]]));
    }

    console.log(
      `devices: a ${SIZE_MIB} MiB loop device and ${devices.length} of ${PARALLEL_MIB} MiB (direct I/O, sparse files in ${tmpdir()}); ` +
        `${RUNS} dd/ours pairs, ${SIDE_RUNS} runs of the other rows; ${POLL_MS > 0 ? `status polled every ${POLL_MS} ms` : 'the end awaited with GET ?wait=true'}; ` +
        `${availableParallelism()} cores; load average ${load()} at the end`,
    );
    const row = (label, key) => {
      const ms = pairs.map((p) => p[key]);
      const ratios = pairs.map((p) => (100 * p.dd) / p[key]);
      const cells = `${fmt(mibps(SIZE, median(ms)))} ${fmt(median(ms))}  ${fmt(median(ratios))}%  (${spread(ratios)}%)`;
      console.log(`  ${label.padEnd(43)}${cells}`);
    };
    console.log(
      `\nfull erase of ${SIZE_MIB} MiB, zero pass            MiB/s       ms   vs dd, median of pairs (range) (target >= 95%)`,
    );
    const ddMs = median(pairs.map((p) => p.dd));
    console.log(
      `  ${'dd if=/dev/zero bs=4M oflag=direct'.padEnd(43)}${fmt(mibps(SIZE, ddMs))} ${fmt(ddMs)}      100%  (dd ${spread(pairs.map((p) => p.dd))} ms)`,
    );
    row('erase_devices over HTTP (plan+erase+verify)', 'http');
    row('erase_devices, device erase + verify', 'step');
    row('erase_devices, the erase pass alone', 'erase');
    // The agent's own cost around the pass, which the disk's swings touch less than the ratios.
    const around = (key) => pairs.map((p) => p.http - p[key]);
    console.log(
      `  around the pass: plan + verify + HTTP ${fmt(median(around('erase')))} ms (${spread(around('erase'))}), ` +
        `of which plan + HTTP ${fmt(median(around('step')))} ms (${spread(around('step'))})`,
    );
    const shredMs = median(shred),
      defaultMs = median(oursDefault);
    console.log('\nIPA default settings (1 random pass + zeros)  MiB/s written   ms');
    console.log(`  shred --force --zero --iterations 1 (IPA)  ${fmt(mibps(2 * SIZE, shredMs))} ${fmt(shredMs)}`);
    console.log(`  erase_devices over HTTP                    ${fmt(mibps(2 * SIZE, defaultMs))} ${fmt(defaultMs)}`);
    const oneMs = median(one),
      fourMs = median(four),
      seqMs = median(fourSequential),
      fourDdMs = median(fourDd);
    console.log('\nparallel erase (zero pass)                    ms   vs 1 device (goal ≤ 1.3×)');
    console.log(`  1 device                                   ${fmt(oneMs)}    1.00×`);
    console.log(`  4 devices at once (default)                ${fmt(fourMs)}    ${(fourMs / oneMs).toFixed(2)}×`);
    console.log(`  4 devices one after another (concurrency 1)${fmt(seqMs)}    ${(seqMs / oneMs).toFixed(2)}×`);
    console.log(
      `  baseline: 4 × dd started at once           ${fmt(fourDdMs)}    ${(fourDdMs / median(oneDd)).toFixed(2)}× of one dd (${fmt(median(oneDd))} ms)`,
    );
    console.log(
      '\nNote: the loop devices are files on one disk of this machine, so 4 devices share that disk: they cannot finish\n' +
        'as fast as one, for dd as for us. On separate physical disks each erase is bound by its own disk.\n' +
        'The wall time over HTTP includes planning (lsblk, blkid, the safety guard), the erase with its final flush\n' +
        `(dd does not flush), the read-back verification and ${POLL_MS > 0 ? `the ${POLL_MS} ms poll` : 'the HTTP round trips'}.`,
    );
  }
  if (ONLY !== 'full') {
    // An agent that may touch only this device, as on a node whose other disks are not
    // there: the full-erase devices would otherwise be listed and probed on every step.
    await stop(agent);
    agent = await startAgent([metaDisk]);
    await getCleanSteps();
    const restore = partitionedTemplate(metaDisk);
    const ours = [],
      oursErase = [],
      ipa = [];
    for (let i = 0; i < METADATA_RUNS; i++) {
      const runIpa = () => {
        restore();
        const ms = timed(() => {
          for (const d of [`${metaDisk}p2`, `${metaDisk}p1`, metaDisk]) ipaDestroyDiskMetadata(d);
        });
        ipa.push(ms);
      };
      if (i % 2 === 0) runIpa();
      restore();
      const step = await eraseOverHttp([metaDisk], [], {}, 'erase_devices_metadata');
      ours.push(step.ms);
      oursErase.push(step.eraseSeconds * 1000);
      if (i % 2 === 1) runIpa();
    }
    console.log(
      `\nerase_devices_metadata, ${METADATA_MIB} MiB loop device, GPT with ext4 + FAT partitions      ms (median of ${METADATA_RUNS}, range)`,
    );
    console.log(`  IPA's destroy_disk_metadata sequence, 2 partitions + disk   ${fmt(median(ipa))}  (${spread(ipa)})`);
    console.log(
      `  ours, the erase alone (report erase_seconds)                ${fmt(median(oursErase))}  (${spread(oursErase)})`,
    );
    console.log(`  ours over HTTP: plan + erase + verify                       ${fmt(median(ours))}  (${spread(ours)})`);
    console.log(`  load average ${load()}`);
  }
} finally {
  if (agent) await stop(agent);
  for (const loop of loops) {
    spawnSync('partx', ['--delete', loop], { stdio: 'ignore' });
    spawnSync('losetup', ['--detach', loop]);
  }
  rmSync(dir, { recursive: true, force: true });
}
