/**
 * Rescue with a stock Ironic 21.4: the node is adopted (manage → adopt → active, nothing
 * booted: the cheap way to an ACTIVE node with the `direct` deploy interface, whose heartbeat
 * handler Ironic's agent rescue needs; `fake` deploy has none), then rescued with a password:
 * Ironic powers it off and on (the power hook starts the VM), the PXE-booted ramdisk looks up
 * and heartbeats in RESCUEWAIT, Ironic calls rescue.finalize_rescue with the password
 * crypt(3)-hashed (21.4 sends `hashed: true`), and the node is in `rescue`. The proof a user
 * sees: the rescue user logs in over SSH with that password (a hostfwd of the guest's port 22
 * on 127.0.0.1), on the rescued machine (its kernel line and NVMe serial), with a terminal,
 * where the agent's API is closed and it heartbeats no more; a wrong password is refused. Then
 * unrescue → active.
 */
import { randomBytes } from 'node:crypto';
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { describe, expect, it } from 'vitest';
import { interopSkipReason } from '../interop/harness/ironic-install.js';
import { sshRun, waitForSshServer } from './harness/ssh.js';
import { StockIronicScenario } from './harness/stock-ironic-scenario.js';
import { e2eSkipReason } from './harness/world.js';

// `fake` boot has no validate_rescue, which AgentRescue.validate calls when Ironic manages the
// agent's boot (agent.py, AgentRescue.validate); here the harness's PXE script boots the
// ramdisk, so Ironic need not, and AgentRescue then leaves the boot interface alone.
const IRONIC_OVERRIDES = `[agent]
manage_agent_boot = False
[conductor]
rescue_callback_timeout = 600`;
const RESCUE_USER = 'rescue';
// The ramdisk's rescue-sshd looks for the password file every 2 s, then starts dropbear.
const SSH_WAIT_MS = 30_000;
// Ironic's lookup gives heartbeat_timeout 10 (start.sh): a heartbeating agent calls every 3-6 s.
const SILENT_HEARTBEATS_MS = 8_000;

const skip = e2eSkipReason() ?? interopSkipReason();

describe.skipIf(skip)(`e2e: stock Ironic 21.4 rescues a PXE-booted QEMU machine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const scenario = new StockIronicScenario('rescue', IRONIC_OVERRIDES, { ssh: true });

  it('adopt → rescue → SSH login as rescue → unrescue → active', { timeout: 900_000 }, async () => {
    const { ironic, world: w } = scenario;
    const t = w.timeline;
    const say = (line: string) => t.say(line);
    const sshPort = w.vm.options.sshPort!;
    const password = randomBytes(12).toString('base64url');
    const { node, hook, wait, failure } = await scenario.enrol({ name: 'e2e-rescue-vm', rescue_interface: 'agent' });

    await t.phase('manage → adopt (active, nothing booted)', async () => {
      await ironic.setProvisionState(node.uuid, 'manage');
      await wait(['manageable'], ['enroll']);
      await ironic.setProvisionState(node.uuid, 'adopt');
      await wait(['active'], ['adopt failed']);
    });
    expect(w.vm.running()).toBe(false);

    await t.phase('rescue (boot the ramdisk, lookup, heartbeat, finalize_rescue)', async () => {
      await ironic.setProvisionState(node.uuid, 'rescue', { rescue_password: password });
      await wait(['rescue'], ['rescue failed']);
    });
    const rescuedAt = Date.now();
    // Ironic drops the password from the node once the agent has it (AgentRescue.clean_up).
    const rescued = await ironic.node(node.uuid);
    expect(rescued.instance_info).not.toHaveProperty('rescue_password');
    expect(rescued.instance_info).not.toHaveProperty('hashed_rescue_password');

    await t.phase('SSH: a wrong password is refused, the right one logs in', async () => {
      expect(await waitForSshServer(sshPort, SSH_WAIT_MS), `no SSH server after ${SSH_WAIT_MS} ms\n${failure()}`).toBe(true);
      const refused = await sshRun(sshPort, RESCUE_USER, `${password}-wrong`, 'echo logged-in');
      expect(refused.code, refused.stderr).not.toBe(0);
      expect(refused.stdout).not.toContain('logged-in');
      say(`wrong password: dbclient exit ${refused.code} (${refused.stderr.trim().split('\n').at(-1)})`);

      const proof = await sshRun(
        sshPort,
        RESCUE_USER,
        password,
        [
          'echo "user=$USER uid=$(id -u)"',
          'echo "cmdline=$(cat /proc/cmdline)"',
          'echo "nvme-serial=$(cat /sys/class/nvme/nvme0/serial)"',
          // IPA's rescue closes the agent's API; its process stays, silent, so init does not start another.
          'if netstat -ltn | grep -q ":9999 "; then echo agent-api=listening; else echo agent-api=closed; fi',
          'echo "agent-process=$(pidof node >/dev/null && echo running || echo gone)"',
          // The refusal above was dropbear's, for the password.
          `echo "refused-logins=$(grep -c "Bad password attempt for '${RESCUE_USER}'" /var/log/rescue-sshd.log)"`,
        ].join('; '),
      );
      expect(proof.code, `${proof.stderr}\n${failure()}`).toBe(0);
      const out = proof.stdout;
      say(`logged in as ${RESCUE_USER}:\n${out.trim()}`);
      expect(out).toContain(`user=${RESCUE_USER} uid=0`);
      // This machine's kernel line: the API and the advertised port the harness gave this run's VM.
      expect(out).toContain(`ipa-api-url=${w.guestApiUrl} `);
      expect(out).toContain(`ipa-advertise-port=${w.vm.options.agentPort}`);
      expect(out).toMatch(/^nvme-serial=E2E-NVME\s*$/m);
      expect(out).toContain('agent-api=closed');
      expect(out).toContain('agent-process=running');
      expect(out).toMatch(/refused-logins=[1-9]/);

      // An interactive login gets a terminal.
      const pty = await sshRun(sshPort, RESCUE_USER, password, 'tty', { pty: true });
      expect(pty.code, pty.stderr).toBe(0);
      const terminal = /^\/dev\/pts\/\d+(?=\r?$)/m.exec(pty.stdout)?.[0];
      expect(terminal, pty.stdout).toBeDefined();
      say(`interactive login: terminal ${terminal}`);
    });
    // The conductor's way to the agent: nothing answers there, over HTTPS or HTTP.
    expect(await answers(w.vm.options.agentPort)).toBe(false);
    const silence = rescuedAt + SILENT_HEARTBEATS_MS - Date.now();
    if (silence > 0) await new Promise((r) => setTimeout(r, silence));
    const heartbeatsAfter = w.watch.heartbeatsAt.filter((at) => at > rescuedAt);
    expect(heartbeatsAfter, `heartbeats in the ${SILENT_HEARTBEATS_MS} ms after the node was rescued`).toEqual([]);
    say(`no heartbeat in the ${SILENT_HEARTBEATS_MS / 1000} s after rescue; the agent's port answers nothing`);

    await t.phase('unrescue → active', async () => {
      await ironic.setProvisionState(node.uuid, 'unrescue');
      await wait(['active'], ['unrescue failed']);
    });
    say(`power actions applied to the VM: ${hook.actions.join(', ')}`);
  });
});

/** Whether an HTTP server (TLS or not, any certificate) answers on 127.0.0.1:`port`. */
async function answers(port: number): Promise<boolean> {
  const attempt = (req: ClientRequest) =>
    new Promise<boolean>((resolve) => {
      req.on('response', (res: IncomingMessage) => {
        res.resume();
        resolve(true);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  const options = { host: '127.0.0.1', port, path: '/', timeout: 5_000 };
  return (await attempt(httpsRequest({ ...options, rejectUnauthorized: false }))) || (await attempt(httpRequest(options)));
}
