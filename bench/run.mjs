// make bench: runs every bench/*.bench.mjs in turn (each prints its own table).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv[2];
let failed = 0;
// Every bench prints its own load average too: the machine is shared, figures are only
// comparable within one bench's run (each measures ours beside its baseline).
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`make bench — node ${process.version}, ${cpus().length} cores, load average ${load()}`);
// A host-wide NODE_EXTRA_CA_CERTS makes every node process parse that CA bundle before it
// runs any code (~50 ms of CPU here for Debian's bundle): a cost of the machine, not of the
// agent, and the ramdisk does not set it. Cleared for every bench (ours, the bare node floor
// and node clients alike); IPA (Python) never read it.
if (process.env.NODE_EXTRA_CA_CERTS) {
  console.log(`NODE_EXTRA_CA_CERTS (${process.env.NODE_EXTRA_CA_CERTS}) cleared for the benches`);
  delete process.env.NODE_EXTRA_CA_CERTS;
}
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .sort()) {
  if (only && !file.startsWith(only)) continue;
  console.log(`\n=== ${file} ===`);
  const result = spawnSync(process.execPath, [`${dir}${file}`], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
console.log(`\nmake bench done — load average ${load()}${failed ? `, ${failed} bench(es) failed` : ''}`);
process.exit(failed ? 1 : 0);
