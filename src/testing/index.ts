/**
 * `ramdisk-agent/testing`: the test kit for hardware-manager plugins, the same one this
 * project's own tests use.
 *
 * - `createFakeStepContext()`: a step context that records progress, logs, `ctx.exec` calls and
 *   dispatches; `exec` answered by the test or real.
 * - `ScratchDevices`: sparse files attached as loop devices (as root), always detached and
 *   deleted; the only devices a test should let a destructive step write.
 * - `startAgentWithPlugins()`: a real agent in-process with your plugin loaded, and a client
 *   that lists and runs steps over HTTP as a conductor does.
 */
export { createFakeStepContext } from './step-context.js';
export type { FakeStepContext, FakeStepContextOptions, ExecResponder, RecordedExec, RecordedLog } from './step-context.js';
export { ScratchDevices, canUseLoopDevices } from './scratch-devices.js';
export type { ScratchDevice, ScratchOptions } from './scratch-devices.js';
export { startAgentWithPlugins } from './plugin-agent.js';
export type { PluginAgent, PluginAgentOptions, CommandRecord } from './plugin-agent.js';
