// bench/erase: the erase manager's full-erase throughput beside `dd if=/dev/zero bs=4M
// oflag=direct` on the same loop device, IPA's shred beside ours with IPA's default
// settings (1 random pass + zeros), and wall time for 4 devices erased in parallel vs 1.
// Everything runs in this one process on loop devices it creates (root needed) over sparse
// files in $TMPDIR, through the built agent's HTTP API (make bench builds it first). The
// loop devices use direct I/O to their files, as a disk has no page cache in front of it.
//   BENCH_ERASE_MIB           size of the device for the full-erase rows (default 2048)
//   BENCH_ERASE_PARALLEL_MIB  size of each of the 4 devices for the parallel rows (default 256)
//   BENCH_ERASE_RUNS          runs per figure, median reported (default 3)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, closeSync, openSync, ftruncateSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop, timeToFirstAnswer } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const agentBin = `${root}dist/ramdisk-agent.mjs`;
const SIZE_MIB = Number(process.env.BENCH_ERASE_MIB ?? 2048);
const PARALLEL_MIB = Number(process.env.BENCH_ERASE_PARALLEL_MIB ?? 256);
const RUNS = Number(process.env.BENCH_ERASE_RUNS ?? 3);
const SIZE = SIZE_MIB * 1024 * 1024;
const PORT = 19180;

if (process.getuid?.() !== 0 || !existsSync('/dev/loop-control')) {
  console.log('erase bench skipped: it needs root and loop devices');
  process.exit(0);
}
if (SIZE_MIB % 4 !== 0 || PARALLEL_MIB % 4 !== 0) throw new Error('BENCH_ERASE_MIB and BENCH_ERASE_PARALLEL_MIB must be multiples of 4');
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
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
  const path = execFileSync('losetup', ['--find', '--show', '--direct-io=on', file], { encoding: 'utf8' }).trim();
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
          const child = spawn('dd', ['if=/dev/zero', `of=${d}`, 'bs=4M', `count=${PARALLEL_MIB / 4}`, 'oflag=direct', 'status=none']);
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dd on ${d} exited ${code}`))));
        }),
    ),
  ).then(() => performance.now() - started);
}

async function eraseOverHttp(devices, skip, driverInternalInfo) {
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
      params: { step: { step: 'erase_devices', interface: 'deploy', priority: 10 }, node, ports: [] },
    }),
  }).then((r) => r.json());
  for (;;) {
    const body = await fetch(`http://127.0.0.1:${PORT}/v1/commands/${posted.id}`).then((r) => r.json());
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
    await new Promise((r) => setTimeout(r, 20));
  }
}

try {
  const first = makeLoop('big', SIZE_MIB);
  const devices = [0, 1, 2, 3].map((i) => makeLoop(i, PARALLEL_MIB));
  const others = devices.slice(1);
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
      ...[first, ...devices].flatMap((d) => ['--allow-device', d]),
    ],
    `http://127.0.0.1:${PORT}/v1/status`,
  );
  agent = child;
  const zeroOnly = { agent_erase_devices_iterations: 0, agent_erase_devices_zeroize: true };
  const ipaDefault = { agent_erase_devices_iterations: 1, agent_erase_devices_zeroize: true };

  // Warm the backing files once so every run below overwrites allocated blocks.
  run('dd', ['if=/dev/zero', `of=${first}`, 'bs=4M', `count=${SIZE_MIB / 4}`, 'oflag=direct', 'status=none']);
  for (const d of devices) run('dd', ['if=/dev/zero', `of=${d}`, 'bs=4M', `count=${PARALLEL_MIB / 4}`, 'oflag=direct', 'status=none']);
  const skipAllBut = (keep) => [first, ...devices].filter((d) => !keep.includes(d));

  const dd = [],
    ours = [],
    oursStep = [],
    oursErase = [],
    shred = [],
    oursDefault = [],
    one = [],
    four = [],
    fourSequential = [],
    fourDd = [],
    oneDd = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first, so that write-back of the previous run's dirty pages does
    // not always land on the same side.
    const runDd = () =>
      dd.push(
        timed(() => run('dd', ['if=/dev/zero', `of=${first}`, 'bs=4M', `count=${SIZE_MIB / 4}`, 'oflag=direct', 'status=none'])),
      );
    if (i % 2 === 0) runDd();
    const zero = await eraseOverHttp([first], skipAllBut([first]), zeroOnly);
    if (i % 2 === 1) runDd();
    ours.push(zero.ms);
    oursStep.push(zero.stepSeconds * 1000);
    oursErase.push(zero.eraseSeconds * 1000);
    console.log(
      `  run ${i + 1}: dd ${(dd.at(-1) / 1000).toFixed(2)} s, erase_devices ${(zero.ms / 1000).toFixed(2)} s (load ${load()})`,
    );
    shred.push(timed(() => run('shred', ['--force', '--zero', '--iterations', '1', first])));
    oursDefault.push((await eraseOverHttp([first], skipAllBut([first]), ipaDefault)).ms);
    one.push((await eraseOverHttp([devices[0]], skipAllBut([devices[0]]), zeroOnly)).ms);
    four.push((await eraseOverHttp(devices, [first], zeroOnly)).ms);
    fourSequential.push((await eraseOverHttp(devices, [first], { ...zeroOnly, disk_erasure_concurrency: 1 })).ms);
    fourDd.push(await ddInParallel(devices));
    oneDd.push(await ddInParallel([devices[0]]));
  }

  const ddMs = median(dd),
    oursMs = median(ours),
    stepMs = median(oursStep),
    eraseMs = median(oursErase);
  console.log(
    `devices: a ${SIZE_MIB} MiB loop device and ${devices.length} of ${PARALLEL_MIB} MiB (direct I/O, sparse files in ${tmpdir()}); ` +
      `median of ${RUNS} runs; ${availableParallelism()} cores; load average ${load()} at the end`,
  );
  console.log(`\nfull erase of ${SIZE_MIB} MiB, zero pass          MiB/s     ms   vs dd (target >= 95%)`);
  console.log(`  dd if=/dev/zero bs=4M oflag=direct        ${fmt(mibps(SIZE, ddMs))} ${fmt(ddMs)}   100%`);
  console.log(
    `  erase_devices over HTTP (plan+erase+verify)${fmt(mibps(SIZE, oursMs))} ${fmt(oursMs)}  ${fmt((100 * ddMs) / oursMs)}%`,
  );
  console.log(
    `  erase_devices, device erase + verify      ${fmt(mibps(SIZE, stepMs))} ${fmt(stepMs)}  ${fmt((100 * ddMs) / stepMs)}%`,
  );
  console.log(
    `  erase_devices, the erase pass alone        ${fmt(mibps(SIZE, eraseMs))} ${fmt(eraseMs)}  ${fmt((100 * ddMs) / eraseMs)}%`,
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
      'The wall time over HTTP includes planning (lsblk, guard), the read-back verification and the 20 ms poll.',
  );
} finally {
  if (agent) await stop(agent);
  for (const loop of loops) spawnSync('losetup', ['--detach', loop]);
  rmSync(dir, { recursive: true, force: true });
}
