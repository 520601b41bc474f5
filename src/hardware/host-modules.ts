/**
 * Shipped plugins are bundled without their own copy of the contract and of zod: at build
 * time their imports of `src/hardware/index.ts` and `zod` are rewritten to read this
 * registry, which the agent fills before loading any plugin. Each plugin then shares the
 * agent's classes (one zod, one error hierarchy) and costs kilobytes instead of a megabyte of
 * parse time and memory. Plugins built elsewhere may still bundle their own copies: the
 * contract's `Symbol.for` brands keep those working.
 */
import * as zod from 'zod';
import * as hardware from './index.js';

const HOST_MODULES_KEY = Symbol.for('ramdisk-agent.host-modules');

export function publishHostModules(): void {
  (globalThis as Record<symbol, unknown>)[HOST_MODULES_KEY] = { hardware, zod };
}
