/**
 * `imageWriterTest`: vitest's `test` with what the image-writer tests share.
 * For the whole file: `scratch` (a folder for test images, and loop devices that may outlive
 * one test) and `server` (a real image server on 127.0.0.1), both made on first use and closed
 * after the file's last test. For one test: `disks` (loop devices detached when the test ends)
 * and `startAgent` (a real agent allowed exactly the given devices, harness.ts).
 * When a test ends, passed or failed, its agents stop first, then its disks are detached:
 * nothing may still be writing to a device when it goes.
 */
import { test } from 'vitest';
import type { AgentConfigInput } from '../../../src/agent/config/schema.js';
import { ImageServer } from '../../helpers/image-server.js';
import { ScratchDevices } from '../../helpers/loop-devices.js';
import { type ImageAgent, startImageAgent } from './harness.js';

export interface ImageWriterFixtures {
  /** Test images and loop devices kept for the whole file. */
  scratch: ScratchDevices;
  /** Serves the file's test images over HTTP. */
  server: ImageServer;
  /** Loop devices of this test only, detached once its agents have stopped. */
  disks: ScratchDevices;
  /** A real agent allowed `devices`; every agent a test starts is closed when it ends. */
  startAgent: (devices: string[], overrides?: Partial<AgentConfigInput>) => Promise<ImageAgent>;
}

export const imageWriterTest = test.extend<ImageWriterFixtures>({
  scratch: [
    async ({}, use) => {
      const scratch = new ScratchDevices();
      await use(scratch);
      scratch.cleanup();
    },
    { scope: 'file' },
  ],
  server: [
    async ({}, use) => {
      const server = await ImageServer.start();
      await use(server);
      await server.close();
    },
    { scope: 'file' },
  ],
  disks: async ({}, use) => {
    const disks = new ScratchDevices();
    await use(disks);
    disks.cleanup();
  },
  startAgent: async ({ disks }, use) => {
    // Depending on `disks` makes vitest set them up first and so tear them down after the agents.
    void disks;
    const started: ImageAgent[] = [];
    await use(async (devices, overrides) => {
      const harness = await startImageAgent(devices, overrides);
      started.push(harness);
      return harness;
    });
    const failures: unknown[] = [];
    for (const { agent } of started.reverse()) {
      try {
        await agent.close();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'closing the agents failed');
  },
});
