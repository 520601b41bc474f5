/**
 * The agent's log lines on their way to stdout, with a bound on what may wait there.
 *
 * In the ramdisk stdout is a pipe to `tee`, which writes to the console: a serial console at
 * 115200 baud takes ~11 KB/s. Node queues what a pipe cannot take yet, without limit, so an
 * agent logging faster than that (a request line each, at thousands of requests a second)
 * grew by ~1.8 MiB a second here, in a ramdisk whose RAM is the disk. Past the limit, lines are
 * left out of stdout and counted; once the backlog is down to half the limit, a line says how
 * many were left out. The in-memory log (`log.collect_system_logs`, its last 4 MiB) still gets
 * every line.
 * IPA's logging blocks on a full pipe instead; blocking here would stall the API (heartbeats,
 * the conductor's polls) behind the console.
 */
import { hostname } from 'node:os';

const DEFAULT_BACKLOG_LIMIT_BYTES = 1024 * 1024;
const LEVEL_WARN = 40;

interface Destination {
  write(line: string): unknown;
  readonly writableLength?: number;
}

export function boundedOutput(next: Destination, backlogLimitBytes = DEFAULT_BACKLOG_LIMIT_BYTES): { write(line: string): void } {
  let leftOut = 0;
  return {
    write(line: string): void {
      const backlog = next.writableLength ?? 0;
      if (backlog > (leftOut > 0 ? backlogLimitBytes / 2 : backlogLimitBytes)) {
        leftOut++;
        return;
      }
      if (leftOut > 0) {
        next.write(leftOutLine(leftOut));
        leftOut = 0;
      }
      next.write(line);
    },
  };
}

/** In pino's shape, so whatever reads the agent's output reads this line too. */
function leftOutLine(count: number): string {
  const msg =
    `${count} log line${count === 1 ? ' was' : 's were'} left out of stdout: it drains slower than the agent logs ` +
    '(a slow console?); all of them are in the in-memory log (log.collect_system_logs)';
  return `${JSON.stringify({ level: LEVEL_WARN, time: Date.now(), pid: process.pid, hostname: hostname(), msg })}\n`;
}
