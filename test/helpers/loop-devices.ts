// The project's tests use the same scratch-device helper vendors get from ramdisk-agent/testing.
export * from '../../src/testing/scratch-devices.js';
