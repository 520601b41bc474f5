// burnin_disk on an allow-listed plain file (the stand-in for a disk on machines without
// loop devices, and in the demo): fio must write that file, and nothing beside it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';
import { runStep, startBurninAgent } from './helpers.js';

const scratch = new ScratchDevices();
let agent: RunningAgent | undefined;

afterEach(async () => {
  await agent?.close();
  agent = undefined;
  scratch.cleanup();
});
afterAll(() => scratch.cleanup());

describe('burnin_disk on a plain file', () => {
  it('writes and verifies the allow-listed file itself and creates no file beside it', async () => {
    const disk = scratch.create({ sizeMiB: 16, plainFile: true });
    const before = readdirSync(dirname(disk.file)).sort();
    let client;
    ({ agent, client } = await startBurninAgent([disk.file]));
    const { final } = await runStep(client, 'burnin_disk', { agent_burnin_fio_disk_runtime: 1 });

    expect(final.command_status).toBe('SUCCEEDED');
    const part = final.command_result.clean_result.parts[0];
    expect(part).toMatchObject({ name: disk.file, passed: true, errors: 0 });
    expect(part.write_bytes).toBeGreaterThan(0);
    // fio named "<file>.0.0" after the job when given no file: that file must not exist.
    expect(readdirSync(dirname(disk.file)).sort()).toEqual(before);
    // The file the step was allowed to write holds fio's verification headers now (it was sparse).
    expect(readFileSync(disk.file).some((byte) => byte !== 0)).toBe(true);
  });
});
