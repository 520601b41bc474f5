/**
 * A login from the host to the guest's SSH port, as the rescue user would make it: dropbear's
 * client (`dbclient`, Debian's dropbear-bin, which `make image` installs for the ramdisk's
 * dropbear), non-interactive. dbclient(1) takes the password from DROPBEAR_PASSWORD; `-y -y`
 * skips host key checks (the ramdisk makes a new key each boot) and writes no known_hosts;
 * HOME is a throw-away folder, so no key or file of the host's user is read or written.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SshResult {
  /** dbclient's exit status: the remote command's, or non-zero when the login failed. */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Log in to 127.0.0.1:`port` and run `command`. `pty`: ask for a terminal, as an interactive
 * login does; dbclient then needs one on its own side too, so it runs under script(1).
 */
export async function sshRun(
  port: number,
  user: string,
  password: string,
  command: string,
  options: { pty?: boolean; timeoutMs?: number } = {},
): Promise<SshResult> {
  const home = mkdtempSync(join(tmpdir(), 'e2e-ssh-'));
  const args = ['-y', '-y', options.pty ? '-t' : '-T', '-p', String(port), `${user}@127.0.0.1`, command];
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  try {
    return await new Promise<SshResult>((resolve, reject) => {
      execFile(
        options.pty ? 'script' : 'dbclient',
        options.pty ? ['-q', '-e', '-c', `dbclient ${quoted}`, '/dev/null'] : args,
        {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, DROPBEAR_PASSWORD: password },
          timeout: options.timeoutMs ?? 60_000,
          encoding: 'utf8',
        },
        (error, stdout, stderr) => {
          if (error && typeof error.code !== 'number') {
            reject(new Error(`dbclient did not finish (${error.signal ?? error.code ?? error.message}): ${stderr}`));
            return;
          }
          resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
        },
      );
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * Wait until an SSH server sends its banner on 127.0.0.1:`port`. Through a hostfwd, QEMU
 * accepts the connection and closes it when nothing listens in the guest.
 */
export async function waitForSshServer(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const banner = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let data = '';
      socket.setTimeout(5_000, () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString('latin1');
        if (data.includes('\n')) socket.destroy();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(data));
    });
    if (banner.startsWith('SSH-2.0-')) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}
