/**
 * A promise rejection nobody handles, in the agent's process: logged, and the agent keeps
 * serving. Node's default (since 15) ends the process, and hardware-manager code leaves such
 * rejections easily (a fire-and-forget `exec` of a vendor tool, an SDK call not awaited): one
 * in `evaluateHardwareSupport()` ended every start of the agent in the ramdisk (init restarts
 * it, it dies again: never a lookup), one in a step ended the agent mid-cleaning. IPA, in
 * Python, logs an exception raised outside a command and carries on. Only rejections: a
 * synchronously thrown uncaught exception still ends the process, as Node advises.
 */
import type { Logger } from '../hardware/logger.js';

/** Installs the handler; the returned function removes it (the agent's close()). */
export function logUnhandledRejections(log: Logger): () => void {
  const onRejection = (reason: unknown) => {
    log.error(
      { err: reason },
      'unhandled promise rejection (left unawaited by a hardware manager or the agent); logged, the agent keeps serving',
    );
  };
  process.on('unhandledRejection', onRejection);
  return () => process.off('unhandledRejection', onRejection);
}
