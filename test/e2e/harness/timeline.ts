/**
 * What an e2e run prints: each boot of the VM (QEMU start → first lookup → first heartbeat,
 * from the pidfile's time and the API watch), the clean and deploy times, and the image.
 */
import type { ImageSizes } from './image-files.js';
import { mib } from './image-files.js';
import type { ApiWatch } from './servers.js';
import type { E2eVm } from './vm.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export class Timeline {
  readonly #starts: number[] = [];
  readonly #phases: string[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly label: string,
    readonly vm: E2eVm,
    readonly watch: ApiWatch,
  ) {
    // QEMU writes its pidfile as it starts: a new mtime is a new power-on.
    this.#timer = setInterval(() => {
      const started = vm.startedAt();
      if (started !== undefined && !this.#starts.includes(started)) this.#starts.push(started);
    }, 100);
    this.#timer.unref();
  }

  say(line: string): void {
    process.stdout.write(`[e2e] ${this.label}: ${line}\n`);
  }

  /** Run `body` as a named phase and note its duration (also when it fails). */
  async phase<T>(name: string, body: () => Promise<T>): Promise<T> {
    const started = Date.now();
    this.say(`${name} ...`);
    let outcome = 'failed';
    try {
      const result = await body();
      outcome = 'done';
      return result;
    } finally {
      const line = `${name}: ${seconds(Date.now() - started)} (${outcome})`;
      this.#phases.push(line);
      this.say(line);
    }
  }

  boots(): string[] {
    return this.#starts.map((start, i) => {
      const end = this.#starts[i + 1] ?? Infinity;
      const lookup = this.watch.lookupsAt.find((t) => t >= start && t < end);
      const heartbeat = this.watch.heartbeatsAt.find((t) => t >= start && t < end);
      if (!lookup) return `boot ${i + 1}: powered off or reset before the agent looked up (nothing to wait for)`;
      return `boot ${i + 1}: QEMU start → first lookup ${seconds(lookup - start)} → first heartbeat ${heartbeat ? seconds(heartbeat - start) : '— (lookup refused: nothing to do in this state)'}`;
    });
  }

  report(sizes: ImageSizes, guestRamMiB: number): void {
    this.say(
      `guest RAM ${guestRamMiB} MiB; kernel ${mib(sizes.kernelBytes)} (${mib(sizes.kernelUnpackedBytes)} unpacked), initramfs ${mib(sizes.initramfsBytes)} (${mib(sizes.initramfsUnpackedBytes)} unpacked)`,
    );
    for (const line of this.boots()) this.say(line);
    for (const line of this.#phases) this.say(line);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
