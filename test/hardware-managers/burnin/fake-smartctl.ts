/**
 * SMART failures cannot exist on this machine (loop devices have no SMART at all), so the
 * step and inventory tests put a `smartctl` first on PATH that prints a real captured
 * output (test/fixtures/smart, sources in its README) for the devices a test maps, and
 * smartctl's own "cannot open" answer for any other device. `-t` starts nothing and says so.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const SMART_FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'smart');

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

/**
 * Installed when this module is imported, for the whole test file (each file runs in its own
 * process): the exec wrapper remembers where it found a tool, so the fake must be first on
 * PATH before anything looks smartctl up, and stay where it is.
 */
const dir = mkdtempSync(join(tmpdir(), 'ramdisk-agent-smartctl-'));
writeFileSync(join(dir, 'smartctl'), SCRIPT);
chmodSync(join(dir, 'smartctl'), 0o755);
writeFileSync(join(dir, 'map'), '');
process.env.PATH = `${dir}:${process.env.PATH ?? ''}`;
// After the importing file's tests: a vitest worker is ended without its 'exit' event.
afterAll(() => rmSync(dir, { recursive: true, force: true }));

export class FakeSmartctl {
  /** Devices (paths) and the capture smartctl prints for each; every other device has no SMART. */
  constructor(map: Record<string, string>) {
    const lines = Object.entries(map).map(([device, fixture]) => `${device} ${join(SMART_FIXTURES, fixture)}`);
    writeFileSync(join(dir, 'map'), lines.join('\n') + '\n');
  }

  restore(): void {
    writeFileSync(join(dir, 'map'), '');
  }
}
