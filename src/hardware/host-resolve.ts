/**
 * Plugins built outside this repository import the contract by name (`ramdisk-agent/hardware`).
 * At run time that name must mean the agent's own copy, whatever the plugin has (or has not)
 * installed: a module hook resolves it to a tiny module that re-exports what the agent
 * published (`host-modules.ts`). A vendor installs the package only as a devDependency, for
 * types and tests. The hook is registered only when such a plugin is loaded, so an agent with
 * the shipped managers only pays nothing for it.
 */
import { register } from 'node:module';
import * as hardware from './index.js';

export const CONTRACT_SPECIFIER = 'ramdisk-agent/hardware';

let registered = false;

export function routeContractImportsToHost(): void {
  if (registered) return;
  registered = true;
  // The key `publishHostModules()` (host-modules.ts) fills.
  const key = JSON.stringify('ramdisk-agent.host-modules');
  const shim =
    `const host = globalThis[Symbol.for(${key})];\n` +
    `if (!host) throw new Error('${CONTRACT_SPECIFIER} is provided by ramdisk-agent when it loads this plugin');\n` +
    Object.keys(hardware)
      .map((name) => `export const ${name} = host.hardware[${JSON.stringify(name)}];`)
      .join('\n');
  const shimUrl = `data:text/javascript,${encodeURIComponent(shim)}`;
  const hooks =
    `export async function resolve(specifier, context, next) {\n` +
    `  if (specifier === ${JSON.stringify(CONTRACT_SPECIFIER)}) return { url: ${JSON.stringify(shimUrl)}, shortCircuit: true };\n` +
    `  return next(specifier, context);\n}\n`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}
