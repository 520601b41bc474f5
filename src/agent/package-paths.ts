/**
 * Where the agent's own files are, found from this module's URL: the same in the source tree
 * (src/agent/) and in the bundle (dist/), which esbuild keeps in one chunk with agent.ts.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `hardware-managers/` next to the bundle (dist/) or at the repository root (source). */
export function locateShippedManagers(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'hardware-managers'), join(here, '..', '..', 'hardware-managers')];
  return candidates.find((dir) => existsSync(dir));
}

/** The folder of the agent's own package (where its package.json is), for npm plugin discovery. */
export function agentPackageRoot(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return undefined;
}
