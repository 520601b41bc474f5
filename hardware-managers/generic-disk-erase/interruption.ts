/**
 * A hardware erase that was stopped (the step aborted, the agent shutting down) or ran out of
 * time says nothing about whether the drive supports it: it is rethrown as it is, never turned
 * into "unsupported" (IncompatibleHardwareMethodError, which sends the dispatcher on to the
 * next manager) nor followed by an overwrite fallback on a drive that may still be erasing.
 */
import { ExecError } from '../../src/hardware/index.js';

export function isInterruption(error: unknown): boolean {
  return error instanceof ExecError && (error.reason === 'aborted' || error.reason === 'timeout');
}
