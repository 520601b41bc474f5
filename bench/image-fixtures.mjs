// What bench/image.bench.mjs prepares and measures with: the test image (random data under a
// GPT) and its checksum, a self-signed certificate, the image server in a process of its own
// (plain or HTTPS), and CPU, memory and load readings from /proc.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, writeSync } from 'node:fs';
import { createHash, randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const MIB = 1024 * 1024;

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const mibps = (bytes, ms) => bytes / MIB / (ms / 1000);
export const pad = (text, width) => String(text).padEnd(width);

export function procStatus(pid) {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
export const kib = (text, key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
export const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

/** CPU seconds (user + system) of a process; `children` for the waited-for children of this one. */
export function cpuSeconds(pid, children = false) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const [user, system] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
  return (Number(user) + Number(system)) / 100;
}

/** Random content with a GPT (one partition over everything) so the writer's layout checks pass. */
export function makeRawImage(path, size) {
  const fd = openSync(path, 'w');
  const chunk = Buffer.allocUnsafe(4 * MIB);
  try {
    for (let written = 0; written < size; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, chunk.length, written);
    }
  } finally {
    closeSync(fd);
  }
  execFileSync('sgdisk', ['-o', '-n', '1:0:0', '-t', '1:8300', path], { stdio: 'ignore' });
  return sha256File(path);
}

/**
 * A disk that compresses about as an OS image does (~2.5:1): in each 64 KiB, 40% random
 * bytes and the rest a repeated byte; every eighth MiB a hole. GPT on it, as makeRawImage.
 */
export function makeCompressibleImage(path, size) {
  const fd = openSync(path, 'w');
  const chunk = Buffer.allocUnsafe(MIB);
  try {
    writeSync(fd, Buffer.alloc(1), 0, 1, size - 1);
    for (let written = 0, i = 0; written < size; written += chunk.length, i++) {
      if (i % 8 === 7) continue;
      for (let at = 0; at < chunk.length; at += 65536) {
        randomFillSync(chunk, at, 26214);
        chunk.fill(0x20, at + 26214, at + 65536);
      }
      writeSync(fd, chunk, 0, chunk.length, written);
    }
  } finally {
    closeSync(fd);
  }
  execFileSync('sgdisk', ['-o', '-n', '1:0:0', '-t', '1:8300', path], { stdio: 'ignore' });
}

function readChunk(path, offset, length) {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) done += readSync(fd, buffer, done, length - done, offset + done);
    return buffer;
  } finally {
    closeSync(fd);
  }
}

export function sha256File(path) {
  const hash = createHash('sha256');
  const size = Number(execFileSync('stat', ['-c', '%s', path], { encoding: 'utf8' }).trim());
  for (let offset = 0; offset < size; offset += 64 * MIB) hash.update(readChunk(path, offset, Math.min(64 * MIB, size - offset)));
  return hash.digest('hex');
}

/** A self-signed certificate for 127.0.0.1 (its own CA bundle). */
export function selfSignedCert(dir) {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'].concat([
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]),
    { stdio: 'ignore' },
  );
  return { key, cert };
}

/** test/helpers/image-server.ts serving `files` in a process of its own; `tls` ({key, cert}) for HTTPS. */
export async function startServer(files, tls) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `${root}test/helpers/image-server.ts`, ...(tls ? ['--tls', tls.key, tls.cert] : []), ...files],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`image server exited with ${code}`)));
  });
  return { child, port };
}

/** Peak RSS of any running qemu-img (the converter is a child of the agent). */
export function qemuImgRssKiB() {
  let peak = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm === 'qemu-img') peak = Math.max(peak, kib(procStatus(pid), 'VmHWM') || 0);
  }
  return peak;
}

/** Wall ms of a shell pipeline; `cpu` gets its CPU seconds (curl + dd, reaped through bash). */
export function timeShell(script, cpu = []) {
  const cpuBefore = cpuSeconds(process.pid, true);
  const started = performance.now();
  execFileSync('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  const ms = performance.now() - started;
  cpu.push(cpuSeconds(process.pid, true) - cpuBefore);
  return ms;
}
