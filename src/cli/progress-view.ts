/**
 * Renders a command's `command_progress` as text progress bars: one line for the whole
 * step, one per device (method, pass, bytes, rate, ETA), then the skipped devices; for a
 * burn-in, the phase over elapsed/planned time, one line of figures per part and the
 * temperatures. Other progress shapes are shown as `key: value` lines. Pure: no I/O, no terminal codes.
 */
import { z } from 'zod';

const deviceProgress = z.looseObject({
  device: z.string(),
  state: z.string(),
  method: z.string().nullable().optional(),
  pass: z.number().optional(),
  passes: z.number().optional(),
  bytes_done: z.number().optional(),
  bytes_total: z.number().optional(),
  percent: z.number().optional(),
  rate_bytes_per_second: z.number().optional(),
  eta_seconds: z.number().nullable().optional(),
  error: z.string().nullable().optional(),
});

const deviceBoard = z.looseObject({
  step: z.string().optional(),
  overall: z
    .looseObject({
      percent: z.number().optional(),
      bytes_done: z.number().optional(),
      bytes_total: z.number().optional(),
      rate_bytes_per_second: z.number().optional(),
      eta_seconds: z.number().nullable().optional(),
    })
    .optional(),
  devices: z.array(deviceProgress),
  skipped: z.array(z.looseObject({ device: z.string(), reason: z.string() })).optional(),
});

/** A burn-in's progress (hardware-managers/burnin/progress.ts): a phase over time, parts with figures. */
const burninBoard = z.looseObject({
  step: z.string(),
  phase: z.string(),
  elapsed_seconds: z.number(),
  planned_seconds: z.number().nullable(),
  percent: z.number().nullable(),
  parts: z.record(z.string(), z.record(z.string(), z.unknown())),
  temperatures: z.array(z.looseObject({ sensor: z.string(), celsius: z.number() })).optional(),
});

/** A burn-in's result: a verdict and figures per part. */
const burninReport = z.looseObject({
  parts: z.array(z.looseObject({ name: z.string(), passed: z.boolean(), failures: z.array(z.string()) })),
  duration_seconds: z.number(),
});

/** The figures worth a column, in this order, with their units. */
const FIGURES: [key: string, label: string, unit: string][] = [
  ['workers', 'workers', ''],
  ['bogo_ops_per_second', 'bogo-ops/s', ''],
  ['read_mib_per_second', 'read', ' MiB/s'],
  ['write_mib_per_second', 'write', ' MiB/s'],
  ['mib_per_second', '', ' MiB/s'],
  ['errors', 'errors', ''],
];

function figuresText(part: Record<string, unknown>): string {
  return FIGURES.filter(([key]) => typeof part[key] === 'number')
    .map(([key, label, unit]) => `${label ? `${label} ` : ''}${part[key] as number}${unit}`)
    .join('  ');
}

function renderBurnin(board: z.output<typeof burninBoard>): string[] {
  const time =
    board.planned_seconds === null
      ? formatDuration(board.elapsed_seconds)
      : `${formatDuration(board.elapsed_seconds)} / ${formatDuration(board.planned_seconds)}`;
  const lines = [
    [
      board.step.padEnd(22),
      board.percent === null ? '' : `${bar(board.percent)}  ${percentText(board.percent)}`,
      board.phase,
      time,
    ]
      .filter(Boolean)
      .join('  '),
  ];
  const names = Object.keys(board.parts);
  const width = Math.max(...names.map((n) => n.length), 6);
  for (const [name, part] of Object.entries(board.parts)) {
    lines.push(['  ' + name.padEnd(width), String(part.state ?? ''), figuresText(part)].filter(Boolean).join('  '));
  }
  if (board.temperatures && board.temperatures.length > 0) {
    lines.push(`  temperatures: ${board.temperatures.map((t) => `${t.sensor} ${t.celsius}°C`).join(', ')}`);
  }
  return lines;
}

export const commandResultSchema = z.looseObject({
  id: z.string(),
  command_name: z.string(),
  command_status: z.string(),
  command_error: z.unknown().optional(),
  command_result: z.unknown().optional(),
  command_progress: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type CommandResultView = z.output<typeof commandResultSchema>;
/** `GET /v1/commands/`. */
export const commandListSchema = z.looseObject({ commands: z.array(commandResultSchema) });

const BAR_WIDTH = 24;

export function bar(percent: number, width = BAR_WIDTH): string {
  const clamped = Math.min(Math.max(percent, 0), 100);
  const full = Math.round((clamped / 100) * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

function rateAndEta(rate: number | undefined, eta: number | null | undefined): string {
  const parts: string[] = [];
  if (rate && rate > 0) parts.push(`${formatBytes(rate)}/s`);
  if (eta !== null && eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  return parts.join('  ');
}

function percentText(percent: number): string {
  return `${percent.toFixed(1).padStart(5)}%`;
}

/** The text for one poll of a command. */
export function renderCommand(command: CommandResultView): string {
  const lines = [`${command.command_name}  ${command.id}  ${command.command_status}`];
  const progress = command.command_progress;
  const board = progress ? deviceBoard.safeParse(progress) : undefined;
  const burnin = progress && !board?.success ? burninBoard.safeParse(progress) : undefined;
  if (burnin?.success) {
    lines.push(...renderBurnin(burnin.data));
  } else if (board?.success) {
    const { overall, devices, skipped, step } = board.data;
    const percent = overall?.percent ?? 0;
    const amount =
      overall?.bytes_total !== undefined ? `${formatBytes(overall.bytes_done ?? 0)}/${formatBytes(overall.bytes_total)}` : '';
    lines.push(
      [
        `${step ?? 'overall'}`.padEnd(22),
        bar(percent),
        percentText(percent),
        amount,
        rateAndEta(overall?.rate_bytes_per_second, overall?.eta_seconds),
      ]
        .filter(Boolean)
        .join('  '),
    );
    const nameWidth = Math.max(...devices.map((d) => d.device.length), 6);
    for (const d of devices) {
      const pass = d.passes ? `pass ${d.pass ?? 0}/${d.passes}` : '';
      const amountText = d.bytes_total ? `${formatBytes(d.bytes_done ?? 0)}/${formatBytes(d.bytes_total)}` : '';
      const tail =
        d.state === 'failed'
          ? `FAILED: ${d.error ?? ''}`
          : d.state === 'running'
            ? rateAndEta(d.rate_bytes_per_second, d.eta_seconds)
            : d.state;
      lines.push(
        [
          '  ' + d.device.padEnd(nameWidth),
          bar(d.percent ?? 0, 16),
          percentText(d.percent ?? 0),
          (d.method ?? '-').padEnd(16),
          pass,
          amountText,
          tail,
        ]
          .filter(Boolean)
          .join('  '),
      );
    }
    if (skipped && skipped.length > 0) {
      // One line per reason: a machine full of devices not allow-listed stays readable.
      const byReason = new Map<string, string[]>();
      for (const s of skipped) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), s.device]);
      lines.push(`  skipped (${skipped.length}):`);
      for (const [reason, devicesSkipped] of byReason) lines.push(`    ${devicesSkipped.join(', ')}: ${reason}`);
    }
  } else if (progress) {
    for (const [key, value] of Object.entries(progress))
      lines.push(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  if (command.command_status !== 'RUNNING') lines.push(...renderOutcome(command));
  return lines.join('\n');
}

const reportSchema = z.looseObject({
  devices: z.record(
    z.string(),
    z.looseObject({
      method: z.string(),
      duration_seconds: z.number().optional(),
      verify: z.looseObject({ passed: z.boolean(), checked: z.string().optional() }).optional(),
    }),
  ),
});

function renderOutcome(command: CommandResultView): string[] {
  if (command.command_error) {
    const error = command.command_error as { type?: string; details?: string; message?: string };
    return [`error: ${error.type ?? 'Error'}: ${error.details ?? error.message ?? JSON.stringify(error)}`];
  }
  const result = command.command_result as Record<string, unknown> | null | undefined;
  const stepResult =
    result && typeof result === 'object' ? Object.entries(result).find(([k]) => k.endsWith('_result'))?.[1] : undefined;
  const burnin = burninReport.safeParse(stepResult);
  if (burnin.success) {
    return burnin.data.parts.map(
      (p) =>
        `  ${p.name}: ${p.passed ? 'passed' : `FAILED (${p.failures.join('; ')})`}` +
        (figuresText(p) ? `  ${figuresText(p)}` : ''),
    );
  }
  const report = reportSchema.safeParse(stepResult);
  if (!report.success) return [];
  return Object.entries(report.data.devices).map(
    ([device, r]) =>
      `  ${device}: ${r.method}${r.duration_seconds !== undefined ? ` in ${formatDuration(r.duration_seconds)}` : ''}` +
      (r.verify ? `, verify ${r.verify.passed ? 'passed' : 'FAILED'}${r.verify.checked ? ` (${r.verify.checked})` : ''}` : ''),
  );
}
