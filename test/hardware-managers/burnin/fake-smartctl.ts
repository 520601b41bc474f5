/**
 * SMART failures cannot exist on this machine (loop devices have no SMART at all), so the
 * step and inventory tests put a `smartctl` first on PATH that prints a real captured
 * output (test/fixtures/smart, sources in its README) for the devices a test maps, and
 * smartctl's own "cannot open" answer for any other device. `-t` starts nothing and says so.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SMART_FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'smart');

const SCRIPT = `#!/bin/sh
for device in "$@"; do :; done
here=$(dirname "$0")
capture=$(awk -v d="$device" '$1 == d { print $2 }' "$here/map")
if [ -z "$capture" ]; then
  printf '{"smartctl":{"exit_status":2,"messages":[{"string":"%s: Unable to detect device type","severity":"error"}]}}\\n' "$device"
  exit 2
fi
case " $* " in *" -t "*) echo "Testing has begun."; exit 0 ;; esac
cat "$capture"
`;

export class FakeSmartctl {
  readonly #dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-smartctl-'));
  readonly #path = process.env.PATH;

  constructor(map: Record<string, string>) {
    writeFileSync(join(this.#dir, 'smartctl'), SCRIPT);
    chmodSync(join(this.#dir, 'smartctl'), 0o755);
    const lines = Object.entries(map).map(([device, fixture]) => `${device} ${join(SMART_FIXTURES, fixture)}`);
    writeFileSync(join(this.#dir, 'map'), lines.join('\n') + '\n');
    process.env.PATH = `${this.#dir}:${this.#path ?? ''}`;
  }

  restore(): void {
    process.env.PATH = this.#path;
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
