/**
 * burnin_network: IPA's fio network job (reference §10). Two nodes pair up: the "writer"
 * listens and sends for `runtime` seconds, the "reader" connects to its partner and
 * receives; then the roles swap, so each link is loaded in both directions. The pair comes
 * from `agent_burnin_fio_network_config` ({"role", "partner"}), as in IPA.
 *
 * IPA's other way to pair, a tooz coordination backend, is not implemented: the step fails
 * saying so rather than waiting for a partner it cannot find. Where no coordination
 * backend exists, `agent_burnin_fio_network_target` ("host" or "host:port") runs one
 * direction against a peer that is already listening there (`fio --listen` with
 * `--rw read`, e.g. on a test server), without pairing.
 */
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { CleaningError, type StepContext } from '../../src/hardware/index.js';
import { FioJsonStream, jobStopped, mibPerSecond, type FioDocument } from './fio-json.js';
import { connectAllPorts, FIO_NETWORK_JOBS } from './fio-network-connect.js';
import { integer, outputFile, resolveKnobs, wholeNumber, toolTimeoutMs, duration } from './knobs.js';
import { BurninProgress } from './progress.js';
import { ToolOutputLog } from './tool-log.js';
import {
  assertPassed,
  checkThreshold,
  round,
  toolFailure,
  type BurninReport,
  type PartReport,
  type Threshold,
} from './report.js';

export const networkArgs = z.object({
  agent_burnin_fio_network_runtime: duration
    .optional()
    .describe('Seconds per direction, or with a unit: 30m, 6h (IPA default 21600)'),
  agent_burnin_fio_network_outputfile: outputFile
    .optional()
    .describe("fio's final JSON report per direction, written to <file>.writer and <file>.reader"),
  agent_burnin_fio_network_config: z
    .looseObject({ role: z.string(), partner: z.string().min(1).optional() })
    .optional()
    .describe('Static pairing: {"role": "writer"|"reader", "partner": "<host>"}'),
  agent_burnin_fio_network_pairing_timeout: integer
    .optional()
    .describe(
      'Seconds to wait for a target to listen (IPA: for a dynamic partner, default 900); a static pair waits until aborted',
    ),
  agent_burnin_fio_network_pairing_group_name: z.string().optional().describe('tooz group for dynamic pairing (not supported)'),
  agent_burnin_fio_network_pairing_backend_url: z
    .string()
    .optional()
    .describe('tooz backend for dynamic pairing (not supported)'),
  agent_burnin_fio_network_target: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+)(:\d{1,5})?$/)
    .optional()
    .describe('Without pairing: send for the runtime to a fio reader listening at "host[:port]"'),
  agent_burnin_fio_network_port: integer
    .optional()
    .describe("First of fio's 16 TCP ports, one per job: port to port+15 (IPA uses 9000-9015)"),
  agent_burnin_fio_network_min_mib_per_second: wholeNumber.optional().describe('Fail a direction whose MiB/s stays below this'),
});

type Role = 'writer' | 'reader';
const ROLES = new Set<string>(['writer', 'reader']);
const DEFAULT_PORT = 9000;
/**
 * The writer's 16 fio jobs set up their listening sockets one after another. A reader that
 * connects the moment its own previous direction ends can get ahead of some of them: a half
 * pairing, which fio-network-connect.ts completes with a second fio run, its ports starting
 * a second later. So the reader gives its partner this head start at the start of each
 * direction, and all 16 ports usually pair in one run (IPA's reader, which cannot complete
 * a half pairing, waits 30 s between attempts instead).
 */
const READER_START_DELAY_MS = 5_000;

interface Direction {
  role: Role;
  /** Reader: the host to connect to. Writer: undefined (listens). Target mode: the target. */
  host: string | undefined;
  /** Target mode sends while connecting, instead of listening. */
  connectAndSend?: boolean;
}

/** IPA's writer: fio listens on port .. port+15, one job each, and sends for the runtime. */
function listenArgs(port: number, runtime: number): string[] {
  // prettier-ignore
  return [
    '--ioengine', 'net', '--port', String(port), '--fill_device', '1', '--group_reporting', '--gtod_reduce', '1',
    '--numjobs', String(FIO_NETWORK_JOBS), '--name', 'writer', '--rw', 'write', '--runtime', String(runtime),
    '--time_based', '--listen', '--output-format', 'json', '--status-interval', '1',
  ];
}

interface RunOptions {
  port: number;
  runtime: number;
  /** How long to wait for the partner; undefined: until the step is aborted. */
  pairingTimeoutSeconds: number | undefined;
  threshold: Threshold;
  outputFile: string | undefined;
  progress: BurninProgress;
  commands: string[];
}

async function runDirection(ctx: StepContext, direction: Direction, options: RunOptions): Promise<PartReport> {
  const name = direction.connectAndSend
    ? `send to ${direction.host}`
    : `${direction.role} (partner ${direction.host ?? 'connects'})`;
  const part: PartReport = { name, passed: true, failures: [], role: direction.role };
  const reports: { text: string }[] = [];
  if (direction.host !== undefined) {
    if (!direction.connectAndSend) {
      options.progress.part(name, { state: 'waiting for the partner to listen' });
      await sleep(READER_START_DELAY_MS, undefined, { signal: ctx.signal });
    }
    const result = await connectAllPorts(
      ctx,
      { host: direction.host, send: direction.connectAndSend === true },
      { ...options, name },
    );
    for (const report of result.reports) {
      ctx.log.info({ tool: 'fio', fio_report: report.doc }, `fio (network) ${direction.role} report`);
      reports.push(report);
    }
    const { reports: _, fioSaid, ...figures } = result;
    Object.assign(part, figures);
    if (result.job_error !== 0) {
      // Reached when fio exits 0 with a paired job in error (fio 3.33 counts such a job in
      // its exit status, and a non-zero exit is the tool's failure, with fio's stdout): name
      // fio's reason here too, as the listening side and burnin_disk do.
      part.passed = false;
      part.failures.push(jobStopped(result.job_error, fioSaid));
    }
  } else {
    const stream = new FioJsonStream((doc) => options.progress.part(name, { state: 'running', ...writerFigure(doc) }));
    options.progress.part(name, { state: 'listening' });
    const args = listenArgs(options.port, options.runtime);
    options.commands.push(['fio', ...args].join(' '));
    const output = new ToolOutputLog(ctx.log, 'fio');
    try {
      await ctx.exec('fio', args, {
        // The listener waits for its partner first, until the step is aborted.
        timeoutMs: toolTimeoutMs(Infinity),
        signal: ctx.signal,
        keepStdout: false,
        onLine: (line, from) => (from === 'stdout' ? stream.push(line) : output.line(line)),
      });
    } catch (error) {
      throw toolFailure('fio (network)', error, stream.otherOutput);
    } finally {
      output.close();
    }
    const job = stream.last?.jobs[0];
    if (!job) {
      part.passed = false;
      part.failures.push('fio printed no report');
      return part;
    }
    ctx.log.info({ tool: 'fio', fio_report: stream.last }, `fio (network) ${direction.role} report`);
    if (stream.lastText) reports.push({ text: stream.lastText });
    Object.assign(part, writerFigure(stream.last), { errors: job.total_err ?? 0, job_error: job.error });
    if (job.error !== 0) {
      part.passed = false;
      part.failures.push(jobStopped(job.error, stream.otherOutput));
    }
  }
  // One report, as IPA's --output; several when a half pairing was completed by another run.
  if (options.outputFile && reports.length > 0) {
    await writeFile(`${options.outputFile}.${direction.role}`, reports.map((r) => r.text + '\n').join(''));
  }
  checkThreshold(part, 'MiB/s', (part.mib_per_second as number | undefined) ?? 0, options.threshold);
  options.progress.part(name, { state: part.passed ? 'passed' : 'failed', ...part });
  return part;
}

function writerFigure(doc: FioDocument | undefined): { bytes: number; mib_per_second: number } {
  const side = doc?.jobs[0]?.write;
  return side ? { bytes: side.io_bytes, mib_per_second: round(mibPerSecond(side), 2) } : { bytes: 0, mib_per_second: 0 };
}

export async function burninNetwork(ctx: StepContext, raw: z.output<typeof networkArgs>): Promise<BurninReport> {
  const knobs = resolveKnobs(networkArgs, raw, ctx.node);
  const runtime = knobs.agent_burnin_fio_network_runtime ?? 21_600;
  const threshold: Threshold = {
    knob: 'agent_burnin_fio_network_min_mib_per_second',
    limit: knobs.agent_burnin_fio_network_min_mib_per_second,
    kind: 'min',
  };
  let port = knobs.agent_burnin_fio_network_port ?? DEFAULT_PORT;
  let directions: Direction[];

  const config = knobs.agent_burnin_fio_network_config;
  if (config) {
    if (!ROLES.has(config.role)) throw new CleaningError(`fio (network) found an unknown role: ${config.role}`);
    if (!config.partner) throw new CleaningError('fio (network) failed to find partner');
    // As in IPA, a static pair waits for its partner as long as it takes ("Both nodes will
    // wait for the other node to show up and block while waiting", Ironic's burn-in guide):
    // the reader retries, the writer listens, until the partner comes or the step is
    // aborted. agent_burnin_fio_network_pairing_timeout bounds IPA's dynamic pairing only; it
    // bounds the wait for a target here.
    const role = config.role as Role;
    const other: Role = role === 'writer' ? 'reader' : 'writer';
    // The writer listens; the reader connects to its partner. Then the roles swap.
    directions = [role, other].map((r) => ({ role: r, host: r === 'reader' ? config.partner : undefined }));
  } else if (knobs.agent_burnin_fio_network_target) {
    const target = /^(\[(?<v6>[^\]]+)\]|(?<host>[^:]+))(:(?<port>\d+))?$/.exec(knobs.agent_burnin_fio_network_target)!.groups!;
    if (target.port) port = Number(target.port);
    directions = [{ role: 'writer', host: target.v6 ?? target.host, connectAndSend: true }];
  } else if (knobs.agent_burnin_fio_network_pairing_backend_url) {
    throw new CleaningError(
      'fio (network): dynamic pairing through a tooz coordination backend is not supported by this agent; ' +
        'give agent_burnin_fio_network_config {"role", "partner"} or agent_burnin_fio_network_target',
    );
  } else {
    // IPA's message for the same situation.
    throw new CleaningError('fio (network): dynamic pairing config is missing agent_burnin_fio_network_pairing_backend_url');
  }

  const startedAt = new Date();
  const progress = new BurninProgress(ctx.progress, 'burnin_network');
  progress.phase('fio network', runtime * directions.length);
  const commands: string[] = [];
  const parts: PartReport[] = [];
  try {
    for (const [index, direction] of directions.entries()) {
      progress.phase(`fio network ${direction.connectAndSend ? 'send' : direction.role} (${index + 1}/${directions.length})`);
      parts.push(
        await runDirection(ctx, direction, {
          port,
          runtime,
          pairingTimeoutSeconds: config ? undefined : (knobs.agent_burnin_fio_network_pairing_timeout ?? 900),
          threshold,
          outputFile: knobs.agent_burnin_fio_network_outputfile,
          progress,
          commands,
        }),
      );
    }
  } catch (error) {
    progress.close('failed');
    throw error;
  }
  progress.close(parts.every((p) => p.passed) ? 'done' : 'failed');
  return assertPassed(
    {
      step: 'burnin_network',
      tool: 'fio',
      commands,
      started_at: startedAt.toISOString(),
      duration_seconds: round((Date.now() - startedAt.getTime()) / 1000),
      planned_seconds: runtime * directions.length,
      passed: true,
      parts,
      thresholds: threshold.limit === undefined ? {} : { [threshold.knob]: threshold.limit },
    },
    ctx.log,
  );
}
