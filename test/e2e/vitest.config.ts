import { defineConfig } from 'vitest/config';

// `make e2e` only: QEMU machines booting the ramdisk (minutes each), one file at a time.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 1_200_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
  },
});
