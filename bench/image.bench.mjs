// bench/image: the image writer's raw write throughput over HTTP and HTTPS beside `curl URL |
// dd of=DEV bs=4M oflag=direct` (`curl -k` for HTTPS) on the same loop device from the same
// local image server (alternating which goes first, load average and CPU time beside each
// run), the agent's peak RSS growth while it writes a 4 GiB image (raw streamed, qcow2 decoded
// as it streams), and qemu-img's own peak RSS (none, unless a qcow2 falls back to qemu-img).
// The fresh agent's first write (which pays one-time costs) is reported apart from the later
// ones. IPA's qcow2 path (download to a file, then qemu-img convert) is timed beside ours, for
// the qcow2 of the random image and for a compressed qcow2 (`convert -c`, at most 1 GiB: the
// compression takes ~16 s per GiB here) of a disk that compresses as an OS image does,
// alternating too, with and
// without the checksum IPA computes before it converts (`openssl dgst -sha256` of the file once
// downloaded: IPA hashes each chunk in the one thread that receives and writes it, so its
// hashing adds to its download, as here; hashlib uses OpenSSL; hashing through `tee` pipes
// cost ~2 s of CPU per GiB more, coreutils' sha256sum ~6 s). The agent is the
// built one (make bench builds it), driven over its HTTP API exactly as Ironic drives it; the
// image servers are separate processes (test/helpers/image-server.ts).
//   BENCH_IMAGE_MIB   image size (default 4096, the size the RSS target is stated for)
//   BENCH_IMAGE_RUNS  runs per throughput figure, median reported (default 3)
//   BENCH_IMAGE_ONLY  `raw` or `qcow2`: only those rows (default both)
//   BENCH_IMAGE_PORT  the agent's port (default 19190; another image bench may hold it)
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cpuSeconds,
  kib,
  load,
  makeCompressibleImage,
  makeRawImage,
  median,
  mibps,
  MIB,
  pad,
  procStatus,
  qemuImgRssKiB,
  selfSignedCert,
  sha256File,
  startServer,
  timeShell,
} from './image-fixtures.mjs';
import { stop, timeToFirstAnswer } from './lib.mjs';
import { attachDirectIoLoop } from './loop-device.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const agentBin = `${root}dist/ramdisk-agent.mjs`;
// Started through the shipped launcher, with the V8 flags the ramdisk runs it with.
const launcher = `${root}bin/ramdisk-agent`;
const SIZE_MIB = Number(process.env.BENCH_IMAGE_MIB ?? 4096);
const RUNS = Number(process.env.BENCH_IMAGE_RUNS ?? 3);
const SIZE = SIZE_MIB * MIB;
const ONLY = process.env.BENCH_IMAGE_ONLY ?? '';
if (!['', 'raw', 'qcow2'].includes(ONLY)) throw new Error(`BENCH_IMAGE_ONLY must be raw or qcow2, not ${ONLY}`);
const PORT = Number(process.env.BENCH_IMAGE_PORT ?? 19190);
const TOKEN = 'bench-image-token-0123456789abcdef';

if (process.getuid?.() !== 0 || !existsSync('/dev/loop-control')) {
  console.log('image bench skipped: it needs root and loop devices');
  process.exit(0);
}
if (!existsSync(agentBin)) {
  console.log('image bench: dist/ramdisk-agent.mjs is missing; run `make build` (make bench does)');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-bench-image-'));
let loop;
const servers = [];
let agent;
let stopping = false;

/** POST /v1/commands/?wait=true on a connection of its own (no keep-alive socket the agent may have closed meanwhile). */
function postAndWait(name, params) {
  const payload = JSON.stringify({ name, params });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: PORT,
        method: 'POST',
        path: `/v1/commands/?agent_token=${TOKEN}&wait=true`,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs write_image as Ironic does; returns wall time, the agent's RSS growth and qemu-img's peak. */
async function writeImage(info) {
  const pid = agent.pid;
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // reset VmHWM: the peak below is this write's
  const before = kib(procStatus(pid), 'VmRSS');
  const cpuBefore = cpuSeconds(pid);
  let sampledPeak = before;
  let qemuPeak = 0;
  const started = performance.now();
  // Memory is sampled from /proc every 20 ms. The command is POSTed with wait=true (IPA's
  // API answers once it finished): the end is exact and no polling loads the agent (a
  // 20 ms poll cost it ~0.5 s of CPU over a 4 GiB write; Ironic polls every few seconds).
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, kib(procStatus(pid), 'VmRSS'));
    qemuPeak = Math.max(qemuPeak, qemuImgRssKiB());
  }, 20);
  let body;
  try {
    body = await postAndWait('deploy.execute_deploy_step', {
      step: { interface: 'deploy', step: 'write_image', args: { image_info: info, configdrive: null } },
      node: { uuid: 'bench', properties: {}, instance_info: { root_device: { name: loop } } },
      ports: [],
    });
  } finally {
    clearInterval(sampler);
  }
  const ms = performance.now() - started;
  const cpu = cpuSeconds(pid) - cpuBefore;
  if (body.command_status !== 'SUCCEEDED') throw new Error(`write_image failed: ${JSON.stringify(body.command_error)}`);
  const peak = Math.max(sampledPeak, kib(procStatus(pid), 'VmHWM'));
  return {
    ms,
    cpu,
    rssBefore: before / 1024,
    rssGrowth: (peak - before) / 1024,
    qemuPeak: qemuPeak / 1024,
    result: body.command_result.deploy_result,
  };
}

/**
 * `RUNS` writes of `info` by the agent and by `baseline` (a shell pipeline), alternating who
 * goes first; `second`, a second baseline, runs on the other side of ours each time.
 */
async function compare(name, info, baseline, second) {
  const runs = {
    name,
    ours: [],
    oursCpu: [],
    base: [],
    baseCpu: [],
    second: [],
    secondCpu: [],
    rss: [],
    qemu: [],
    loads: [],
    method: '',
  };
  const runBaseline = () => {
    execFileSync('sync');
    runs.base.push(timeShell(baseline, runs.baseCpu));
  };
  const runSecond = () => {
    if (!second) return;
    execFileSync('sync');
    runs.second.push(timeShell(second, runs.secondCpu));
  };
  for (let run = 0; run < RUNS; run++) {
    // The machine is shared and its load drifts.
    if (run % 2 === 0) runBaseline();
    else runSecond();
    execFileSync('sync');
    const write = await writeImage(info);
    runs.ours.push(write.ms);
    runs.oursCpu.push(write.cpu);
    runs.rss.push(write.rssGrowth);
    runs.qemu.push(write.qemuPeak);
    runs.method = write.result.write_method;
    if (run % 2 === 1) runBaseline();
    else runSecond();
    runs.loads.push(load());
    const secondRun = second
      ? `, second baseline ${(runs.second.at(-1) / 1000).toFixed(2)} s (CPU ${runs.secondCpu.at(-1).toFixed(2)} s)`
      : '';
    console.log(
      `  ${name} run ${run + 1}: baseline ${(runs.base.at(-1) / 1000).toFixed(2)} s (CPU ${runs.baseCpu.at(-1).toFixed(2)} s)${secondRun}, ` +
        `ours ${(write.ms / 1000).toFixed(2)} s (CPU ${write.cpu.toFixed(2)} s), load ${runs.loads.at(-1)}; ` +
        `agent RSS ${write.rssBefore.toFixed(1)} MiB + ${write.rssGrowth.toFixed(1)} MiB peak growth`,
    );
  }
  return runs;
}

const WIDTH = 66;
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const rate = (ms) => `${mibps(SIZE, ms).toFixed(0)} MiB/s (${seconds(ms)})`;
const within = (value, limit) => (value <= limit ? 'OK' : 'ABOVE TARGET');

function printThroughput(label, runs, baselineLabel, target) {
  const base = median(runs.base);
  const mine = median(runs.ours);
  const ratio = base / mine;
  const show = label.startsWith('qcow2') ? seconds : rate;
  console.log(`${pad(label, WIDTH)}${pad(show(mine), 24)}${show(base)} ${baselineLabel}`);
  console.log(
    `${pad(`  ours / baseline (target >= ${target * 100}%)`, WIDTH)}${(ratio * 100).toFixed(0)}%  ${ratio >= target ? 'OK' : 'BELOW TARGET'}`,
  );
  console.log(
    `${pad('  CPU time per write (agent; the baseline pipeline)', WIDTH)}${pad(`${median(runs.oursCpu).toFixed(2)} s`, 24)}${median(runs.baseCpu).toFixed(2)} s`,
  );
}

try {
  console.log(`preparing a ${SIZE_MIB} MiB random GPT image, its qcow2, and a sparse ${SIZE_MIB * 2 + 512} MiB loop device ...`);
  const raw = join(dir, 'bench.raw');
  const rawSha = makeRawImage(raw, SIZE);
  const qcow2 = join(dir, 'bench.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  const qcowSha = sha256File(qcow2);
  const compressedMiB = Math.min(SIZE_MIB, 1024);
  const compressible = join(dir, 'compressible.raw');
  const compressed = join(dir, 'compressed.qcow2');
  if (ONLY !== 'raw') {
    console.log(`preparing a ${compressedMiB} MiB compressible disk and its compressed qcow2 (qemu-img convert -c) ...`);
    makeCompressibleImage(compressible, compressedMiB * MIB);
    execFileSync('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', compressible, compressed]);
    rmSync(compressible);
  }
  const disk = join(dir, 'disk.img');
  const fd = openSync(disk, 'w');
  ftruncateSync(fd, (SIZE_MIB * 2 + 512) * MIB);
  closeSync(fd);
  // Direct I/O from the loop device to its file, as a real disk has no page cache in front:
  // otherwise dd's O_DIRECT writes land in the host's page cache and whoever flushes next
  // (our writer's final fdatasync) pays for both.
  loop = attachDirectIoLoop(disk);
  // A reused loop device can carry a previous user's partition entries (they outlive a detach).
  spawnSync('partx', ['--delete', loop], { stdio: 'ignore' });

  const tls = selfSignedCert(dir);
  const plain = await startServer(ONLY !== 'raw' ? [raw, qcow2, compressed] : [raw, qcow2]);
  servers.push(plain);
  const secure = await startServer([raw], tls);
  servers.push(secure);
  const rawUrl = `http://127.0.0.1:${plain.port}/bench.raw`;
  const rawsUrl = `https://127.0.0.1:${secure.port}/bench.raw`;
  const qcowUrl = `http://127.0.0.1:${plain.port}/bench.qcow2`;
  const compressedUrl = `http://127.0.0.1:${plain.port}/compressed.qcow2`;
  // The agent verifies the image server against the certificate, as with a site's CA bundle.
  const config = join(dir, 'agent.json');
  writeFileSync(config, JSON.stringify({ cafile: tls.cert }));
  const started = await timeToFirstAnswer(
    launcher,
    ['agent', '--standalone', '--listen', `127.0.0.1:${PORT}`, '--agent-token', TOKEN, '--allow-device', loop].concat([
      '--cmdline',
      '/dev/null',
      '--config',
      config,
      '--log-level',
      'warn',
    ]),
    `http://127.0.0.1:${PORT}/v1/status`,
  );
  agent = started.child;
  // An agent that dies mid-bench says why.
  let agentErr = '';
  agent.stderr.on('data', (c) => (agentErr = (agentErr + c).slice(-4000)));
  agent.once('exit', (code, signal) => {
    if (!stopping) console.error(`agent exited (code ${code}, signal ${signal}) during the bench:\n${agentErr}`);
  });

  const info = (url, format, sha) => ({
    id: url.split('/').pop(),
    urls: [url],
    disk_format: format,
    stream_raw_images: true,
    os_hash_algo: 'sha256',
    os_hash_value: sha,
  });
  const dd = `dd of=${loop} bs=4M oflag=direct iflag=fullblock status=none`;
  let http, https, byHand, qcow, qcowCompressed;
  if (ONLY !== 'qcow2') {
    http = await compare('http', info(rawUrl, 'raw', rawSha), `curl -s ${rawUrl} | ${dd}`);
    https = await compare('https', info(rawsUrl, 'raw', rawSha), `curl -sk ${rawsUrl} | ${dd}`);
    // The same with the checksum the agent must verify (coreutils' sha256sum), once: slow.
    execFileSync('sync');
    byHand = timeShell(`curl -s ${rawUrl} | tee >(sha256sum > ${dir}/sum) | ${dd}`);
  }
  if (ONLY !== 'raw') {
    // IPA's way: the whole qcow2 into a file (tmpfs on IPA's ramdisk), then convert it.
    const cache = join(dir, 'cache.qcow2');
    const convert = `qemu-img convert -f qcow2 -O host_device -t none -W -n ${cache} ${loop} && rm -f ${cache}`;
    qcow = await compare(
      'qcow2',
      info(qcowUrl, 'qcow2', qcowSha),
      `curl -s -o ${cache} ${qcowUrl} && ${convert}`,
      // IPA also hashes every chunk as it writes it to the file and verifies the checksum
      // before converting (standby's ImageDownload, _verify_image); the first baseline does not.
      `curl -s -o ${cache} ${qcowUrl} && openssl dgst -sha256 ${cache} > ${dir}/qcow2.sum && ${convert}`,
    );
    qcowCompressed = await compare(
      'qcow2 -c',
      info(compressedUrl, 'qcow2', sha256File(compressed)),
      `curl -s -o ${cache} ${compressedUrl} && ${convert}`,
      `curl -s -o ${cache} ${compressedUrl} && openssl dgst -sha256 ${cache} > ${dir}/qcow2.sum && ${convert}`,
    );
  }

  const loads = [http, https, qcow, qcowCompressed].flatMap((runs) => runs?.loads ?? []);
  console.log(
    `\nimage ${SIZE_MIB} MiB random data, sha256, loop device ${loop} (direct I/O, sparse file in ${tmpdir()}), ${RUNS} run(s), ` +
      `median; ${availableParallelism()} cores shared with other work, load average ${loads.join(' / ')}`,
  );
  console.log(`${pad('what', WIDTH)}${pad('ours', 24)}baseline`);
  if (http && https) {
    printThroughput('raw write_image over HTTP (download+hash+write+flush)', http, 'curl | dd bs=4M oflag=direct', 0.9);
    printThroughput('raw write_image over HTTPS (download+hash+write+flush)', https, 'curl -k | dd bs=4M oflag=direct', 0.9);
    console.log(
      `${pad('  same work by hand, once: curl | tee >(sha256sum) | dd', WIDTH)}${pad(rate(byHand), 24)}` +
        `ours over HTTP = ${((byHand / median(http.ours)) * 100).toFixed(0)}% of it`,
    );
  }
  for (const [runs, what] of [
    [qcow, `qcow2 write_image, ${SIZE_MIB} MiB random`],
    [qcowCompressed, `qcow2 -c write_image, ${compressedMiB} MiB compressible`],
  ]) {
    if (!runs) continue;
    printThroughput(`${what} (${runs.method})`, runs, 'IPA-like: curl -o file, qemu-img convert', 1);
    const hashed = median(runs.second);
    console.log(
      `${pad('  the same with the checksum IPA verifies: curl, openssl sha256, convert', WIDTH)}${pad(seconds(hashed), 24)}` +
        `ours = ${((hashed / median(runs.ours)) * 100).toFixed(0)}% of its speed (CPU ${median(runs.secondCpu).toFixed(2)} s)`,
    );
  }
  // The first write of a fresh agent also pays one-time costs (loading the image code and
  // the plugin's chunks, JIT): reported as is, and the later writes apart.
  const [first, ...later] = http && https ? [...http.rss, ...https.rss] : [...qcow.rss, ...qcowCompressed.rss];
  const firstKind = http ? 'raw' : 'qcow2';
  console.log(
    `${pad(`agent peak RSS growth, ${firstKind}, fresh agent's first write (<= 64)`, WIDTH)}${pad(`${first.toFixed(1)} MiB`, 24)}${within(first, 64)}`,
  );
  if (http && later.length > 0) {
    const worst = Math.max(...later);
    console.log(
      `${pad('agent peak RSS growth, raw, later writes (<= 64 MiB)', WIDTH)}${pad(`${worst.toFixed(1)} MiB`, 24)}${within(worst, 64)}`,
    );
  }
  if (qcow) {
    const qcowRss = Math.max(...(http ? [...qcow.rss, ...qcowCompressed.rss] : later.length > 0 ? later : qcow.rss));
    console.log(
      `${pad(`agent peak RSS growth while writing qcow2${http ? '' : ', later writes'} (<= 64 MiB)`, WIDTH)}${pad(`${qcowRss.toFixed(1)} MiB`, 24)}${within(qcowRss, 64)}`,
    );
    const qemuPeak = Math.max(...qcow.qemu, ...qcowCompressed.qemu);
    console.log(`${pad('qemu-img peak RSS (only when a qcow2 is converted, not decoded)', WIDTH)}${qemuPeak.toFixed(1)} MiB`);
    console.log(`(IPA would also hold the ${SIZE_MIB} MiB qcow2 in tmpfs = RAM)`);
  }
  console.log(`${pad('agent RSS after the writes', WIDTH)}${(kib(procStatus(agent.pid), 'VmRSS') / 1024).toFixed(1)} MiB`);
} finally {
  stopping = true;
  if (agent) await stop(agent);
  for (const server of servers) await stop(server.child);
  if (loop) {
    // The written images' partitions, added to the kernel by the agent, must not outlive the run.
    spawnSync('partx', ['--delete', loop], { stdio: 'ignore' });
    try {
      execFileSync('losetup', ['--detach', loop]);
    } catch {
      // already detached
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
