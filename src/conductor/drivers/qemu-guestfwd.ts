/**
 * The programs a QEMU user-mode network's `guestfwd=…-cmd:<command>` forwards run. QEMU
 * starts one per guest connection, long after power-on, so a missing one shows only as a
 * guest that cannot connect: power-on checks them first.
 */
import { hasCommand } from '../../hardware/exec.js';

/**
 * QEMU writes a comma inside an option value as ",,"; libslirp splits <command> as a shell
 * would, so the program may be quoted. A command this cannot read is left to QEMU.
 */
export function guestfwdPrograms(netdevOptions: string): string[] {
  const options = netdevOptions
    .replaceAll(',,', '\0')
    .split(',')
    .map((option) => option.replaceAll('\0', ','));
  const programs: string[] = [];
  for (const option of options) {
    const at = option.startsWith('guestfwd=') ? option.indexOf('-cmd:') : -1;
    if (at < 0) continue;
    const word = /^\s*(?:'([^']*)'|"([^"\\]*)"|([^\s'"\\]+))(?:\s|$)/.exec(option.slice(at + '-cmd:'.length));
    const program = word?.[1] ?? word?.[2] ?? word?.[3];
    if (program) programs.push(program);
  }
  return programs;
}

/** The first program the guestfwd forwards would run that is not installed. */
export async function missingGuestfwdProgram(netdevOptions: string): Promise<string | undefined> {
  for (const program of guestfwdPrograms(netdevOptions)) if (!(await hasCommand(program))) return program;
  return undefined;
}
