/**
 * Setting the clock before the machine goes down, as IPA's `sync_clock` + `hwclock
 * --systohc`: from `ipa-ntp-server` with chronyd (or ntpdate), then the system time into the
 * hardware clock, so the next OS boots with the right time. Best effort: nothing here fails.
 */
import { hasCommand as hasCommandOnPath } from '../hardware/exec.js';
import type { Logger } from '../hardware/logger.js';
import type { Exec } from '../hardware/step-context.js';

/** IPA's `_VALID_NTP_SERVER_RE`; DNS names are at most 253 characters. */
const NTP_SERVER_NAME = /^[A-Za-z0-9.:_-]{1,253}$/;

/**
 * IPA's `_validate_ntp_server` (IPA LP#2160050): an IP address or a host name of plain
 * characters, so the value cannot add options to chronyd's directive (`server X iburst`) or
 * pass as an option of ntpdate (`-...`). Every IPv4 and IPv6 literal is of these characters.
 */
function isNtpServerName(server: string): boolean {
  return NTP_SERVER_NAME.test(server) && !server.startsWith('-');
}

export interface ClockSyncOptions {
  exec: Exec;
  log: Logger;
  ntpServer: string | undefined;
  hasCommand?: (file: string) => Promise<boolean>;
}

export async function syncClock({ exec, log, ntpServer, hasCommand = hasCommandOnPath }: ClockSyncOptions): Promise<void> {
  const attempt = async (file: string, args: string[]) => {
    try {
      await exec(file, args, { timeoutMs: 60_000 });
    } catch (error) {
      log.warn({ err: error }, `${file} failed; continuing`);
    }
  };
  if (ntpServer && !isNtpServerName(ntpServer)) {
    // IPA raises CommandExecutionError here, which fails power_off and run_image (IPA master
    // validates before its ignore_errors handling). The clock is best effort before a power
    // action, as everywhere else in this function: the machine still goes down.
    log.warn({ ntpServer }, 'Invalid NTP server address: not a host name or IP address; the clock is not set from it');
  } else if (ntpServer) {
    if (await hasCommand('chronyd')) await attempt('chronyd', ['-q', `server ${ntpServer} iburst`]);
    else if (await hasCommand('ntpdate')) await attempt('ntpdate', [ntpServer]);
    else log.warn({ ntpServer }, 'no chronyd or ntpdate to sync the clock with');
  }
  if (await hasCommand('hwclock')) await attempt('hwclock', ['-v', '--systohc']);
}
