/**
 * The agent's log lines on their way to stdout, with a bound on what may wait there.
 *
 * In the ramdisk stdout is a pipe to `tee`, which writes to the console: a serial console at
 * 115200 baud takes ~11 KB/s. Node queues what a pipe cannot take yet, without limit, so an
 * agent logging faster than that (a request line each, at thousands of requests a second)
 * grew by ~1.8 MiB a second here, in a ramdisk whose RAM is the disk. Past the limit, lines are
 * left out of stdout and counted; once the backlog is down to half the limit, or stdout has
 * drained, a line says how many were left out. The in-memory log (`log.collect_system_logs`,
 * its last 4 MiB) still gets every line.
 *
 * The limit counts what Node reports waiting (`writableLength`: characters of the queued
 * strings, bytes for the ASCII of most lines). Only a pipe or socket queues: Node writes to a
 * file or a TTY synchronously, so there is nothing to bound (a TTY as stdout would block, as
 * IPA's logging does on a full pipe; blocking on the pipe here would stall the API,
 * heartbeats and the conductor's polls, behind the console).
 * The notice is shaped as pino's default line (level, time, pid, hostname, msg).
 */
import { hostname } from 'node:os';

const DEFAULT_BACKLOG_LIMIT = 1024 * 1024;
const LEVEL_WARN = 40;

interface Destination {
  write(line: string): unknown;
  readonly writableLength?: number;
  once?(event: 'drain', listener: () => void): unknown;
}

export function boundedOutput(next: Destination, backlogLimit = DEFAULT_BACKLOG_LIMIT): { write(line: string): void } {
  let leftOut = 0;
  let awaitingDrain = false;
  const sayLeftOut = () => {
    if (leftOut === 0) return;
    next.write(leftOutLine(leftOut));
    leftOut = 0;
  };
  const onDrain = () => {
    awaitingDrain = false;
    sayLeftOut();
  };
  return {
    write(line: string): void {
      const backlog = next.writableLength ?? 0;
      if (backlog > (leftOut > 0 ? backlogLimit / 2 : backlogLimit)) {
        leftOut++;
        // Said when stdout has drained even if the agent logs nothing more by then.
        if (!awaitingDrain && next.once) {
          awaitingDrain = true;
          next.once('drain', onDrain);
        }
        return;
      }
      sayLeftOut();
      next.write(line);
    },
  };
}

function leftOutLine(count: number): string {
  const msg =
    `${count} log line${count === 1 ? ' was' : 's were'} left out of stdout: it drains slower than the agent logs ` +
    '(a slow console?); all of them are in the in-memory log (log.collect_system_logs)';
  return `${JSON.stringify({ level: LEVEL_WARN, time: Date.now(), pid: process.pid, hostname: hostname(), msg })}\n`;
}
