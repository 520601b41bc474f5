/**
 * The result a burn-in step returns (IPA returns nothing; Ironic stores whatever comes
 * back as the step's result): what ran, for how long, its figures and a verdict per part.
 * Thresholds given as arguments turn a figure into a failure that names both.
 */
import { CleaningError, CommandExecutionError, ExecError, type Logger } from '../../src/hardware/index.js';

export interface PartReport {
  name: string;
  passed: boolean;
  /** Why the part failed: tool errors, verification errors, thresholds missed. */
  failures: string[];
  [figure: string]: unknown;
}

export interface BurninReport {
  step: string;
  tool: string;
  commands: string[];
  started_at: string;
  duration_seconds: number;
  planned_seconds: number | null;
  passed: boolean;
  parts: PartReport[];
  /** Devices left out, with the reason (disk burn-in and health checks). */
  skipped?: { device: string; reason: string }[];
  thresholds: Record<string, number>;
}

export interface Threshold {
  /** The knob's name, as the operator wrote it. */
  knob: string;
  limit: number | undefined;
  kind: 'min' | 'max';
}

/** Adds a failure to `part` when `value` misses the threshold; the message names both. */
export function checkThreshold(part: PartReport, figure: string, value: number | undefined, threshold: Threshold): void {
  if (threshold.limit === undefined) return;
  const shown = value === undefined ? 'not measured' : String(round(value, 2));
  const missed = value === undefined || (threshold.kind === 'min' ? value < threshold.limit : value > threshold.limit);
  if (!missed) return;
  const relation = threshold.kind === 'min' ? 'below' : 'above';
  part.failures.push(`${figure} ${shown} is ${relation} ${threshold.knob} ${threshold.limit}`);
  part.passed = false;
}

export function thresholdsOf(list: Threshold[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of list) if (t.limit !== undefined) out[t.knob] = t.limit;
  return out;
}

/**
 * Logs the report, then fails the step when any part failed: a tool that could not run is
 * IPA's CommandExecutionError; figures, verification errors and thresholds are
 * CleaningError, as IPA raises for a failed SMART test. The message lists every failed part.
 * The report goes to the agent's log whatever the verdict: Ironic drops a step's result, so
 * the log bundle the conductor collects is where an operator finds the figures.
 */
export function assertPassed(report: BurninReport, log: Logger): BurninReport {
  report.passed = report.parts.every((p) => p.passed);
  log.info({ burnin_report: report }, `${report.step} ${report.passed ? 'passed' : 'failed'}`);
  if (report.passed) return report;
  const details = report.parts
    .filter((p) => !p.passed)
    .map((p) => `${p.name}: ${p.failures.join('; ')}`)
    .join('; ');
  throw new CleaningError(`${report.step} failed: ${details}`);
}

/**
 * A tool failure as IPA words it: "stress-ng (cpu) failed with error ...". `stdout`: what the
 * tool said there that is not already in the error (fio's job errors), added as IPA's
 * ProcessExecutionError shows a tool's stdout beside its stderr.
 */
export function toolFailure(what: string, error: unknown, stdout = ''): CommandExecutionError {
  // The whole command line followed by "is not installed" reads as if the line were a
  // package: name the program, which is what the operator has to add to the ramdisk.
  if (error instanceof ExecError && error.reason === 'not-found') {
    const tool = error.command.trim().split(/\s+/)[0];
    return new CommandExecutionError(`${what} failed: ${tool} is not installed in this ramdisk`, { cause: error });
  }
  const text = error instanceof ExecError ? error.details : error instanceof Error ? error.message : String(error);
  const said = stdout.trim() ? `; stdout: ${stdout.trim()}` : '';
  return new CommandExecutionError(`${what} failed with error ${text}${said}`, { cause: error });
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
