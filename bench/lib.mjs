// Small helpers shared by the benches: percentiles, a keep-alive client, process spawning.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) };
}

/** One keep-alive HTTP/1.1 connection, requests one after another (as IPA's figures were taken). */
export function keepAliveClient(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    request(method, path, body) {
      return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method,
            path,
            agent,
            headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
          },
          (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('error', reject);
        if (payload) req.write(payload);
        req.end();
      });
    },
    close: () => agent.destroy(),
  };
}

/** Spawn a process and poll `url` every 5 ms until it answers 200; returns ms from spawn. */
export async function timeToFirstAnswer(command, args, url, timeoutMs = 20_000) {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`process exited early: ${stderr}`);
      try {
        const res = await fetch(url);
        if (res.status === 200) return { ms: performance.now() - started, child };
      } catch {
        // not listening yet
      }
      if (performance.now() - started > timeoutMs) throw new Error(`no answer from ${url} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

export function rssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  } catch {
    return NaN;
  }
}

export async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export function fmt(n, digits = 2) {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/**
 * CPU time (ms) the process has used so far, every thread summed, from the scheduler's
 * nanosecond counters (`schedstat` of every thread under /proc/PID/task): unlike wall time it does not grow
 * while the process waits for a core other workers hold.
 */
export function cpuMs(pid) {
  let ns = 0;
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return NaN;
  }
  for (const tid of tasks) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return ns / 1e6;
}

/** RssAnon: the resident memory that is not pages of mapped files (the node binary, libraries). */
export function rssAnonMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/RssAnon:\s+(\d+)/.exec(status)[1]) / 1024;
  } catch {
    return NaN;
  }
}
