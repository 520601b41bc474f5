// burnin_disk on an allow-listed plain file (the stand-in for a disk on machines without
// loop devices, and in the demo): fio must write that file, and nothing beside it.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';
import { runStep, startBurninAgent, startStep } from './helpers.js';

const scratch = new ScratchDevices();
let agent: RunningAgent | undefined;

const MIB = 1024 * 1024;

/**
 * A failing region: 1 MiB at 2 MiB of `file` rewritten with random data, pass after pass,
 * until `stop()`, which resolves once the last write is done (bounded to a minute should the
 * test die first). Written from this process, not by a shell loop of dd: killing the shell
 * left its last dd running, which recreated the file while the scratch folder was removed
 * (ENOTEMPTY) and could be holding the file open when the step's safety guard looked
 * (another writer: no disk to burn in).
 */
function startCorrupting(file: string): { stop: () => Promise<void> } {
  let stopped = false;
  const passes = (async () => {
    // r+: never creates the file.
    const handle = await open(file, 'r+');
    try {
      for (const end = Date.now() + 60_000; !stopped && Date.now() < end; await sleep(1)) {
        await handle.write(randomBytes(MIB), 0, MIB, 2 * MIB);
      }
    } finally {
      await handle.close();
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await passes;
    },
  };
}

let corrupter: ReturnType<typeof startCorrupting> | undefined;

/** What fio's --verify_dump writes into its working directory: `<file>.<offset>.hdr_fail|received|expected`. */
const isVerifyDump = (name: string) => /^disk-\d+\.img\.\d+\.(hdr_fail|received|expected)$/.test(name);

afterEach(async () => {
  await corrupter?.stop();
  corrupter = undefined;
  await agent?.close();
  agent = undefined;
  scratch.cleanup();
  // The agent runs in this process: its tools' working directory is this one.
  for (const name of readdirSync(process.cwd()).filter(isVerifyDump)) rmSync(join(process.cwd(), name));
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

  it('a disk that returns other data than was written fails, and fio leaves no file per bad block', async () => {
    const disk = scratch.create({ sizeMiB: 16, plainFile: true });
    let client;
    ({ agent, client } = await startBurninAgent([disk.file]));
    const id = await startStep(client, 'burnin_disk', { agent_burnin_fio_disk_runtime: 3 });
    // Corrupted once the step has taken the disk (its part is listed) and fio is starting:
    // the disk returns other data than fio writes for the whole run.
    const final = await client.waitFor(id, (body) => {
      if (!corrupter && body.command_progress?.parts?.[disk.file]) corrupter = startCorrupting(disk.file);
    });
    await corrupter?.stop();

    expect(final.command_status).toBe('FAILED');
    expect(final.command_error.type).toBe('CleaningError');
    expect(final.command_error.details).toMatch(
      new RegExp(`^burnin_disk failed: ${disk.file}: (.+; )?errors \\d+ is above agent_burnin_fio_disk_max_errors 0$`),
    );
    // IPA's --verify_dump 1 wrote a 4 KiB file per bad block into the agent's working
    // directory (RAM in a ramdisk), which nothing reads.
    expect(readdirSync(process.cwd()).filter(isVerifyDump)).toEqual([]);
  });
});
