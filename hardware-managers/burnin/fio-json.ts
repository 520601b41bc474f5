/**
 * fio's JSON output, read while fio runs. With `--output-format json --status-interval N`
 * fio prints a whole JSON document every N seconds and a final one at the end, each
 * starting with `{` and ending with `}` alone on a line; other lines ("fio: waiting for
 * connection") may come in between. Only the keys the burn-in reports are typed.
 */
import { z } from 'zod';

const direction = z.looseObject({
  io_bytes: z.number(),
  /** KiB/s. */
  bw: z.number(),
  iops: z.number().optional(),
  runtime: z.number().optional(),
});

const job = z.looseObject({
  jobname: z.string(),
  error: z.number(),
  /** Seconds since the job started. */
  elapsed: z.number().optional(),
  total_err: z.number().optional(),
  first_error: z.number().optional(),
  read: direction,
  write: direction,
});

const document = z.looseObject({
  'fio version': z.string().optional(),
  jobs: z.array(job),
});

export type FioJob = z.infer<typeof job>;
export type FioDocument = z.infer<typeof document>;

function parseFioDocument(text: string): FioDocument {
  return document.parse(JSON.parse(text));
}

/** What is kept of fio's other stdout lines: the last few, each cut short. */
const OTHER_LINES = 10;
const OTHER_LINE_CHARS = 300;
/**
 * fio's own announcements, not news: one job description per job ("reader-7001: (g=0):
 * rw=read, ...") and "Starting 16 processes". With a job per port they were the last ten.
 */
const ANNOUNCEMENT = /^\S+: \(g=\d+\): |^Starting \d+ (processes|process|threads|thread)\b/;

/**
 * Feeds output lines; calls `onDocument` with each complete document fio printed, and keeps
 * the last lines that are not part of one: fio says there why a job failed ("fio: pid=..,
 * err=111/file:engines/net.c:800, func=connect, error=Connection refused"), on stdout, not
 * stderr.
 */
export class FioJsonStream {
  #lines: string[] | undefined;
  readonly #other: string[] = [];
  #last: FioDocument | undefined;
  #lastText: string | undefined;
  readonly #onDocument: (doc: FioDocument) => void;

  constructor(onDocument: (doc: FioDocument) => void = () => {}) {
    this.#onDocument = onDocument;
  }

  push(line: string): void {
    if (this.#lines === undefined) {
      if (line === '{') this.#lines = [line];
      else if (line.trim() && !ANNOUNCEMENT.test(line)) {
        this.#other.push(line.length > OTHER_LINE_CHARS ? `${line.slice(0, OTHER_LINE_CHARS)}...` : line);
        if (this.#other.length > OTHER_LINES) this.#other.shift();
      }
      return;
    }
    this.#lines.push(line);
    if (line !== '}') return;
    const text = this.#lines.join('\n');
    this.#lines = undefined;
    let doc: FioDocument;
    try {
      doc = parseFioDocument(text);
    } catch {
      return; // a document fio cut short (killed mid-print): the previous one stands
    }
    this.#last = doc;
    this.#lastText = text;
    this.#onDocument(doc);
  }

  /** The last complete document: after fio exits, its final report. */
  get last(): FioDocument | undefined {
    return this.#last;
  }

  get lastText(): string | undefined {
    return this.#lastText;
  }

  /** The last lines fio printed outside its JSON documents, one per line ('' if none). */
  get otherOutput(): string {
    return this.#other.join('\n');
  }
}

/**
 * A part's failure for a job fio stopped with `error` (an errno), with fio's own reason: the
 * stdout lines fio printed for it ("fio: pid=7298, err=28/file:io_u.c:1876, func=io_u error,
 * error=No space left on device"), matched by that errno, the pid left out so that 16 jobs
 * failing alike say it once. The number alone ("error 28") was all the step said, where IPA's
 * error shows fio's stdout. Other lines fio printed (already bounded by FioJsonStream) are
 * given when none names the errno; nothing when fio printed none.
 */
export function jobStopped(error: number, otherOutput: string): string {
  const lines = otherOutput.split('\n').filter((line) => line.trim() !== '');
  const named = lines.filter((line) => line.includes(`err=${error}/`)).map((line) => line.replace(/^fio: pid=\d+, /, 'fio: '));
  const said = [...new Set(named.length > 0 ? named : lines)];
  return `fio stopped with error ${error}${said.length > 0 ? ` (${said.join('; ')})` : ''}`;
}

const KIB = 1024;
export const MIB = 1024 * 1024;

/** fio's `bw` is KiB/s. */
export function mibPerSecond(direction: { bw: number }): number {
  return direction.bw / KIB;
}
