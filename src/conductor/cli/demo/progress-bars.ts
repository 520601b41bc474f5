/**
 * Live progress for the demo: the running command's `command_progress`, as one bar per disk
 * (erase) or one bar for the image. On a terminal the bars redraw in place; in a log (CI)
 * a line is printed at each quarter, so the output stays readable.
 */
const BAR = 28;

/** Device paths of plain-file disks are long; the file name is enough to tell them apart. */
function shortLabel(path: string): string {
  return path.length > 22 ? path.slice(path.lastIndexOf('/') + 1) : path;
}

function bar(percent: number): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * BAR);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${percent.toFixed(0).padStart(3)}%`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Lines describing one progress snapshot, or none if it carries nothing we can draw. */
function describeProgress(
  progress: Record<string, any> | null | undefined,
): Array<{ key: string; label: string; percent: number; detail: string }> {
  if (!progress) return [];
  if (Array.isArray(progress.devices)) {
    return (progress.devices as Array<Record<string, any>>).map((d) => ({
      key: String(d.device),
      label: shortLabel(String(d.device)),
      percent: Number(d.percent ?? 0),
      detail:
        `${d.method ?? 'waiting'}${d.passes ? ` pass ${d.pass}/${d.passes}` : ''} ${d.state === 'done' ? 'done' : d.rate_bytes_per_second ? `${mib(d.rate_bytes_per_second)}/s` : ''}`.trim(),
    }));
  }
  if (progress.bytes_written !== undefined) {
    const total = Number(progress.total_bytes ?? 0);
    const written = Number(progress.bytes_written ?? 0);
    const percent =
      progress.percent !== undefined && progress.percent !== null
        ? Number(progress.percent)
        : total > 0
          ? (100 * written) / total
          : 0;
    return [
      {
        key: 'image',
        label: shortLabel(String(progress.device ?? 'image')),
        percent,
        detail: `${progress.stage ?? ''} ${mib(written)}${total ? ` of ${mib(total)}` : ''}`.trim(),
      },
    ];
  }
  return [];
}

export class ProgressBars {
  readonly #tty: boolean;
  #drawn = 0;
  readonly #milestones = new Map<string, number>();

  constructor(readonly out: NodeJS.WriteStream) {
    this.#tty = !!out.isTTY;
  }

  show(title: string, progress: Record<string, any> | null | undefined): void {
    const lines = describeProgress(progress);
    if (lines.length === 0) return;
    if (this.#tty) {
      if (this.#drawn > 0) this.out.write(`\x1b[${this.#drawn}A`);
      for (const line of lines) this.out.write(`\x1b[2K      ${line.label.padEnd(22)} ${bar(line.percent)}  ${line.detail}\n`);
      this.#drawn = lines.length;
      return;
    }
    for (const line of lines) {
      const key = `${title}:${line.key}`;
      const quarter = Math.floor(line.percent / 25);
      if ((this.#milestones.get(key) ?? -1) >= quarter) continue;
      this.#milestones.set(key, quarter);
      this.out.write(`      ${line.label.padEnd(22)} ${bar(line.percent)}  ${line.detail}\n`);
    }
  }

  /** The next bars start on fresh lines. */
  reset(): void {
    this.#drawn = 0;
  }
}
