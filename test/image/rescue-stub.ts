/**
 * What follows rescue.finalize_rescue on a stub machine that network-stub.ts booted: the rescue
 * password file appears, as the agent writes it, and init's rescue-sshd (image/rootfs/usr/lib/ramdisk)
 * runs with busybox sh. The commands it runs are network-stubs.sh's, put in through a
 * functions.sh that sources the image's and then the stubs; dropbear is a script that records
 * its arguments; /etc and /var/log are folders of the test ($ROOT). The stub clock starts again
 * at 0 at the hand-over.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lines, STUBS, stubErrors, type StubMachine } from './network-stub.js';
import { busybox, RAMDISK_SHELL_LIB } from './ramdisk-shell.js';

const TICKS_PER_SECOND = 5;

interface RescueRun {
  /** Ticks from the hand-over at which each NIC's udhcpc was started (none: not started). */
  starts: Record<string, number[]>;
  /** Ticks at which each NIC's udhcpc was killed. */
  kills: Record<string, number[]>;
  /** Leases taken after the hand-over. */
  leases: { nic: string; tick: number; address: string }[];
  /** Each NIC's udhcpc arguments as last started, METRIC=<n> first. */
  udhcpc: Record<string, string>;
  /** The `ip` commands run after the hand-over. */
  ip: string[];
  /** What the init log got after the hand-over. */
  log: string;
  /** dropbear's arguments, one start a line. */
  dropbear: string[];
  /** /etc/passwd afterwards. */
  passwd: string;
}

/** A DHCP server's answer from a second after the hand-over on: an address, or none (no server). */
export type Offer = [seconds: number, lease: string | undefined];

function perNic(t: string, kind: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const file of readdirSync(t)) {
    if (file.startsWith(`${kind}.`)) out[file.slice(kind.length + 1)] = lines(join(t, file)).map(Number);
  }
  return out;
}

/**
 * Writes the rescue password file and runs rescue-sshd `times` times in a row (init starts it
 * again when dropbear ends); resolves once it and everything it started have ended. `offers`:
 * how each NIC's DHCP server answers from the hand-over on (Ironic moving its port).
 */
export async function handOverToRescue(
  machine: StubMachine,
  offers: Record<string, Offer[]>,
  env: Record<string, string> = {},
  times = 1,
): Promise<RescueRun> {
  if (!busybox) throw new Error('no busybox');
  const { t, dir } = machine;
  const root = join(dir, 'root');
  const lib = join(dir, 'lib');
  const bin = join(dir, 'bin');
  for (const folder of ['etc/ipa-rescue-config', 'var/log']) mkdirSync(join(root, folder), { recursive: true });
  for (const file of ['passwd', 'shadow']) {
    copyFileSync(join(RAMDISK_SHELL_LIB, '..', '..', '..', 'etc', file), join(root, 'etc', file));
  }
  writeFileSync(join(root, 'etc/ipa-rescue-config/ipa-rescue-password'), '$5$salt$hash');
  mkdirSync(lib);
  for (const file of readdirSync(RAMDISK_SHELL_LIB)) {
    if (file !== 'functions.sh') symlinkSync(join(RAMDISK_SHELL_LIB, file), join(lib, file));
  }
  writeFileSync(join(lib, 'functions.sh'), `. "${RAMDISK_SHELL_LIB}/functions.sh"\n. "${STUBS}"\n`);
  mkdirSync(bin);
  writeFileSync(join(bin, 'dropbear'), '#!/bin/sh\necho "$*" >>"$T/dropbear.log"\n', { mode: 0o755 });

  for (const [nic, answers] of Object.entries(offers)) {
    const now =
      lines(join(t, `offers.${nic}`))
        .at(-1)
        ?.split(' ')[1] ?? '-';
    const later = answers.map(([seconds, lease]) => `${seconds * TICKS_PER_SECOND} ${lease ?? '-'}`);
    writeFileSync(join(t, `offers.${nic}`), [`0 ${now}`, ...later].join('\n') + '\n');
  }
  const booted = { starts: perNic(t, 'starts'), log: readFileSync(machine.log, 'utf8').length };
  for (const file of ['ip.log', 'kill.log', 'leases.log']) writeFileSync(join(t, file), '');

  for (let run = 0; run < times; run++) {
    // fd 3 is a pipe that every process of the hand-over inherits (busybox sh leaves it open):
    // 'close' comes once the last of them, the background DHCP watch included, has ended.
    const child = spawn(busybox, ['sh', join(lib, 'rescue-sshd')], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      detached: true,
      env: {
        ...machine.env,
        ...env,
        PATH: `${bin}:${process.env.PATH}`,
        RAMDISK_LIB: lib,
        ROOT: root,
      },
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    if (code !== 0) throw new Error(`rescue-sshd exited with ${code}: ${stderr}`);
  }
  stubErrors(machine);

  const starts = perNic(t, 'starts');
  for (const [nic, ticks] of Object.entries(starts)) {
    starts[nic] = ticks.slice(booted.starts[nic]?.length ?? 0);
  }
  const kills: Record<string, number[]> = {};
  for (const line of lines(join(t, 'kill.log'))) {
    const [nic, tick] = line.split(' ');
    (kills[nic!] ??= []).push(Number(tick));
  }
  const udhcpc: Record<string, string> = {};
  for (const file of readdirSync(t)) {
    if (file.startsWith('udhcpc.')) udhcpc[file.slice('udhcpc.'.length)] = readFileSync(join(t, file), 'utf8').trim();
  }
  return {
    starts,
    kills,
    leases: lines(join(t, 'leases.log')).map((line) => {
      const [nic, tick, address] = line.split(' ');
      return { nic: nic!, tick: Number(tick), address: address! };
    }),
    udhcpc,
    ip: lines(join(t, 'ip.log')),
    log: readFileSync(machine.log, 'utf8').slice(booted.log),
    dropbear: lines(join(t, 'dropbear.log')),
    passwd: readFileSync(join(root, 'etc/passwd'), 'utf8'),
  };
}
