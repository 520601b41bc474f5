/**
 * ATA secure erase through `hdparm`, with IPA's state handling (reference §8.2): refuse a
 * frozen drive, unlock a drive a previous failed attempt left locked, set the temporary
 * password `NULL`, erase (enhanced when supported), and on failure unlock again so that an
 * overwrite fallback can still write to the drive.
 */
import { z } from 'zod';
import { BlockDeviceEraseError, cleanupExec, ExecError, hasCommand, type StepContext } from '../../src/hardware/index.js';
import { isInterruption } from './interruption.js';

export interface AtaSecurity {
  /** The "Security:" lines as IPA normalises them (`not enabled`, `supported: enhanced erase`). */
  lines: string[];
  supported: boolean;
  enabled: boolean;
  locked: boolean;
  frozen: boolean;
  enhancedErase: boolean;
  /** hdparm's estimate for the erase that would be used, in minutes, when printed. */
  estimatedMinutes: number | undefined;
}

/** IPA's `_get_ata_security_lines`: the lines after "Security:" up to the next section. */
export function parseHdparmSecurity(output: string): AtaSecurity | undefined {
  const marker = /\nSecurity:[ \t]*\n/.exec(output);
  if (!marker) return undefined;
  const lines: string[] = [];
  let estimate: string | undefined;
  for (const raw of output.slice(marker.index + marker[0].length).split('\n')) {
    // A new section starts at column 0 ("Logical Unit WWN ...:", "Checksum: correct").
    if (raw.length > 0 && !/^\s/.test(raw)) break;
    let line = raw.trim().replace(/\s+/g, ' ');
    if (line === '') continue;
    if (line.startsWith('not')) line = `not ${line.slice(3).trim()}`;
    if (/min for .*SECURITY ERASE UNIT/.test(line)) estimate = line;
    lines.push(line);
  }
  const has = (text: string) => lines.includes(text);
  const enhancedErase = !has('not supported: enhanced erase') && has('supported: enhanced erase');
  const minutes = (kind: 'SECURITY' | 'ENHANCED SECURITY') => {
    const match = new RegExp(`(?:^|\\. )(?:more than )?(\\d+)min for ${kind} ERASE UNIT`).exec(estimate ?? '');
    return match?.[1] ? Number(match[1]) : undefined;
  };
  return {
    lines,
    supported: has('supported'),
    enabled: !has('not enabled') && has('enabled'),
    locked: !has('not locked'),
    frozen: !has('not frozen'),
    enhancedErase,
    estimatedMinutes: enhancedErase ? minutes('ENHANCED SECURITY') : minutes('SECURITY'),
  };
}

const smartctlJson = z.looseObject({
  smartctl: z
    .looseObject({ exit_status: z.number().optional(), messages: z.array(z.looseObject({ string: z.string() })).optional() })
    .optional(),
  device: z.looseObject({ protocol: z.string().optional() }).optional(),
  ata_security: z
    .looseObject({
      state: z.number().optional(),
      string: z.string().optional(),
      enabled: z.boolean().optional(),
      frozen: z.boolean().optional(),
    })
    .optional(),
});

export interface SmartctlSecurity {
  /** smartctl could talk ATA to the drive and reported its security state. */
  available: boolean;
  protocol: string | undefined;
  state: string | undefined;
  frozen: boolean | undefined;
  enabled: boolean | undefined;
}

/** `smartctl --json -d ata -g security DEV`: does the drive speak ATA security at all? */
export function parseSmartctlSecurity(stdout: string): SmartctlSecurity {
  let parsed;
  try {
    parsed = smartctlJson.parse(JSON.parse(stdout));
  } catch {
    return { available: false, protocol: undefined, state: undefined, frozen: undefined, enabled: undefined };
  }
  const security = parsed.ata_security;
  const unavailable = !security || /unavailable/i.test(security.string ?? '');
  return {
    available: !unavailable,
    protocol: parsed.device?.protocol,
    state: security?.string,
    frozen: security?.frozen,
    enabled: security?.enabled,
  };
}

export type AtaProbe = { usable: true; security: AtaSecurity } | { usable: false; reason: string; security?: AtaSecurity };

/** Read-only: whether ATA secure erase applies to this device, and in which state it is. */
export async function probeAtaSecurity(ctx: StepContext, device: string): Promise<AtaProbe> {
  if (!(await hasCommand('hdparm'))) return { usable: false, reason: 'hdparm is not installed' };
  if (await hasCommand('smartctl')) {
    // smartctl's exit status is a bit mask; the JSON says what it found.
    const probe = await ctx
      .exec('smartctl', ['--json', '-d', 'ata', '-g', 'security', device], { okExitCodes: range(0, 255), quiet: true })
      .catch((error: unknown) => (error instanceof ExecError ? { stdout: error.stdout } : { stdout: '' }));
    const smart = parseSmartctlSecurity(probe.stdout);
    if (!smart.available) return { usable: false, reason: 'smartctl reports no ATA security feature set' };
  }
  const security = await readAtaSecurity(ctx, device).catch(() => undefined);
  if (!security) return { usable: false, reason: 'hdparm -I shows no Security section (not an ATA drive)' };
  if (!security.supported) return { usable: false, reason: 'the drive does not support the ATA security feature set', security };
  return { usable: true, security };
}

async function readAtaSecurity(ctx: StepContext, device: string): Promise<AtaSecurity | undefined> {
  const { stdout } = await ctx.exec('hdparm', ['-I', device], { quiet: true });
  return parseHdparmSecurity(stdout);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Try the two empty passwords IPA tries (hdparm < 9.51 took "NULL" literally). */
async function attemptUnlock(
  ctx: StepContext,
  device: string,
  security: AtaSecurity | undefined,
): Promise<AtaSecurity | undefined> {
  let current = security ?? (await readAtaSecurity(ctx, device));
  for (const password of ['NULL', '']) {
    if (current && !current.locked) break;
    await ctx
      .exec('hdparm', ['--user-master', 'u', '--security-unlock', password, device])
      // Not under a key named "password": the log masks those, and these two are IPA's well-known values.
      .catch((error: unknown) => ctx.log.info({ device, unlockWith: password, err: error }, 'security unlock failed'));
    current = await readAtaSecurity(ctx, device);
  }
  return current;
}

export interface AtaEraseOutcome {
  enhanced: boolean;
  estimatedMinutes: number | undefined;
}

/** Runs the erase; throws `BlockDeviceEraseError` (IPA's messages) when it cannot. */
export async function ataSecureErase(ctx: StepContext, device: string, initial: AtaSecurity): Promise<AtaEraseOutcome> {
  let security = initial;
  if (security.frozen) throw new BlockDeviceEraseError(`block device ${device} is frozen and cannot be erased`);
  if (security.locked) {
    security = (await attemptUnlock(ctx, device, security)) ?? security;
    if (security.locked) throw new BlockDeviceEraseError(`Block device ${device} already has a security password set`);
  }
  if (!security.enabled) {
    try {
      await ctx.exec('hdparm', ['--user-master', 'u', '--security-set-pass', 'NULL', device]);
    } catch (error) {
      throw new BlockDeviceEraseError(`Security password set failed for device ${device}: ${(error as Error).message}`);
    }
  }
  const option = security.enhancedErase ? '--security-erase-enhanced' : '--security-erase';
  // hdparm blocks until the drive finishes; allow twice the drive's own estimate.
  const timeoutMs = Math.max(60, (security.estimatedMinutes ?? 240) * 2) * 60_000;
  try {
    await ctx.exec('hdparm', ['--user-master', 'u', option, 'NULL', device], { timeoutMs, signal: ctx.signal });
  } catch (error) {
    // Leave the drive unlocked, and without the temporary password, so that an overwrite
    // fallback can still write to it and the next boot does not find it locked. Without the
    // step's signal: after an abort this is all that keeps the drive from staying locked with
    // a password (unusable), and an aborted exec would start nothing.
    const cleanup: StepContext = { ...ctx, exec: cleanupExec(ctx.exec) };
    const state = await attemptUnlock(cleanup, device, undefined).catch(() => undefined);
    if (!state || state.enabled) {
      await cleanup
        .exec('hdparm', ['--user-master', 'u', '--security-disable', 'NULL', device])
        .catch((cleanupError: unknown) =>
          ctx.log.warn({ device, err: cleanupError }, 'could not remove the temporary ATA password'),
        );
    }
    if (isInterruption(error)) throw error;
    throw new BlockDeviceEraseError(`Erase failed for device ${device}: ${(error as Error).message}`);
  }
  const after = await readAtaSecurity(ctx, device);
  if (!after || after.enabled) throw new BlockDeviceEraseError(`An unknown error occurred erasing block device ${device}`);
  return { enhanced: security.enhancedErase, estimatedMinutes: security.estimatedMinutes };
}
