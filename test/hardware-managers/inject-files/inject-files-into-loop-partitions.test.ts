/**
 * inject_files as Ironic runs it (deploy.execute_deploy_step) against a real loop disk with
 * a GPT, a vfat partition 1 and an ext4 partition 2: files placed by path or partition
 * number, mode/owner/group/dirmode, deletion, URL contents with node fields (TLS verified
 * unless verify_ca is false), links inside
 * the image that cannot lead out of it, and IPA's validation messages.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { AgentTestClient, startTestAgent } from '../../helpers/agent.js';
import { ImageServer } from '../../helpers/image-server.js';
import { selfSignedCert } from '../../helpers/self-signed-cert.js';
import { canUseLoopDevices, ScratchDevices, type ScratchDevice } from '../../helpers/loop-devices.js';

const NODE_UUID = '7d0a4c4e-6b55-4d7e-9a1f-2b7c0e3f9a11';
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe.skipIf(!canUseLoopDevices())('inject_files on a loop disk (vfat p1, ext4 p2)', () => {
  const scratch = new ScratchDevices();
  let disk: ScratchDevice;
  let agent: RunningAgent;
  let client: AgentTestClient;
  let server: Server;
  let serverUrl: string;
  const requested: string[] = [];
  const outside = mkdtempSync(join(tmpdir(), 'inject-files-outside-'));

  const part = (n: number) => `${disk.path}p${n}`;

  /** Mount a partition read-only just long enough to look at it. */
  function inspectPartition<T>(n: number, look: (root: string) => T, readOnly = true): T {
    const mnt = mkdtempSync(join(scratch.dir, 'look-'));
    execFileSync('mount', [...(readOnly ? ['-o', 'ro'] : []), part(n), mnt]);
    try {
      return look(mnt);
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true });
    }
  }

  beforeAll(async () => {
    disk = scratch.create({ sizeMiB: 96 });
    execFileSync('sfdisk', ['--quiet', disk.path], {
      input: 'label: gpt\nsize=32MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n',
    });
    execFileSync('partx', ['--add', disk.path]);
    execFileSync('mkfs.vfat', [part(1)], { stdio: 'ignore' });
    execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', part(2)], { stdio: 'ignore' });
    inspectPartition(
      2,
      (root) => {
        mkdirSync(join(root, 'etc'));
        writeFileSync(join(root, 'etc', 'motd'), 'old message\n');
        // Links of the installed system: one absolute (to its own /etc), one to a host folder.
        symlinkSync('/etc', join(root, 'etc', 'self'));
        symlinkSync(outside, join(root, 'etc', 'escape'));
        mkdirSync(join(root, 'tmp'));
      },
      false,
    );
    server = createServer((req, res) => {
      requested.push(req.url ?? '');
      res.end(`served for ${req.url}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    serverUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    agent = await startTestAgent({ allowDevices: [disk.path], injectFilesPriority: 42 });
    client = new AgentTestClient(agent.url);
  });

  afterAll(async () => {
    await agent?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    scratch.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });

  async function injectFiles(args: Record<string, unknown>, properties: Record<string, unknown> = {}) {
    const started = await client.post('deploy.execute_deploy_step', {
      step: { interface: 'deploy', step: 'inject_files', args },
      node: {
        uuid: NODE_UUID,
        properties: { root_device: { name: disk.path }, ...properties },
        instance_info: {},
        driver_internal_info: {},
      },
      ports: [{ address: '52:54:00:12:34:56' }],
    });
    expect(started.status).toBe(200);
    return client.waitFor(started.body.id);
  }

  it('lists inject_files as a deploy step and as a service step, both with the configured priority', async () => {
    const deploy = await client.post('deploy.get_deploy_steps', { node: {}, ports: [] }, true);
    const step = deploy.body.command_result.deploy_steps.InjectFilesHardwareManager[0];
    expect(step).toMatchObject({ step: 'inject_files', priority: 42, interface: 'deploy' });
    expect(Object.keys(step.argsinfo)).toEqual(['files', 'verify_ca']);
    const service = await client.post('service.get_service_steps', { node: {}, ports: [] }, true);
    // IPA's GenericHardwareManager.get_service_steps lists it with CONF.inject_files_priority too.
    expect(service.body.command_result.service_steps.InjectFilesHardwareManager[0]).toMatchObject({
      step: 'inject_files',
      priority: 42,
      interface: 'deploy',
    });
  });

  it('writes by path detection (ext4) and by partition number (vfat), with modes and owners, from properties and args', async () => {
    const result = await injectFiles(
      {
        files: [
          {
            path: '/etc/ironic.d/agent.conf',
            content: b64('[DEFAULT]\n'),
            mode: 0o600,
            dirmode: 0o750,
            owner: 1234,
            group: 5678,
          },
          { path: '/EFI/ironic/boot.cfg', partition: 1, content: b64('vfat content\n') },
          { path: '/etc/motd', deleted: true },
          // IPA's `if partition:`: 0 is no partition given, so the path finds it.
          { path: '/etc/issue', partition: 0, content: b64('by path\n') },
        ],
      },
      { inject_files: [{ path: '/etc/hostname', content: b64('node-1\n') }] },
    );
    expect(result.command_status, JSON.stringify(result.command_error)).toBe('SUCCEEDED');
    expect(result.command_result.deploy_result).toEqual({
      injected: ['/etc/hostname', '/etc/ironic.d/agent.conf', '/EFI/ironic/boot.cfg', '/etc/issue'],
      deleted: ['/etc/motd'],
    });
    inspectPartition(2, (root) => {
      expect(readFileSync(join(root, 'etc', 'hostname'), 'utf8')).toBe('node-1\n');
      expect(readFileSync(join(root, 'etc', 'issue'), 'utf8')).toBe('by path\n');
      const conf = statSync(join(root, 'etc', 'ironic.d', 'agent.conf'));
      expect(readFileSync(join(root, 'etc', 'ironic.d', 'agent.conf'), 'utf8')).toBe('[DEFAULT]\n');
      expect(conf.mode & 0o777).toBe(0o600);
      expect([conf.uid, conf.gid]).toEqual([1234, 5678]);
      expect(statSync(join(root, 'etc', 'ironic.d')).mode & 0o777).toBe(0o750);
      expect(existsSync(join(root, 'etc', 'motd'))).toBe(false);
    });
    expect(
      execFileSync('mtype', ['-i', part(1), '::/EFI/ironic/boot.cfg'], {
        encoding: 'utf8',
        env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
      }),
    ).toBe('vfat content\n');
    // Every mount the step made is gone.
    expect(execFileSync('findmnt', ['-rn', '-o', 'SOURCE'], { encoding: 'utf8' })).not.toContain(disk.path);
  });

  it('fetches URL contents with node and port fields filled in', async () => {
    const result = await injectFiles({
      files: [{ path: '/etc/from-url', partition: '2', content: `${serverUrl}/config/{node[uuid]}/{ports[0][address]}` }],
    });
    expect(result.command_status).toBe('SUCCEEDED');
    expect(requested).toContain(`/config/${NODE_UUID}/52:54:00:12:34:56`);
    inspectPartition(2, (root) => {
      expect(readFileSync(join(root, 'etc', 'from-url'), 'utf8')).toBe(`served for /config/${NODE_UUID}/52:54:00:12:34:56\n`);
    });
  });

  it("follows the image's links inside the partition, never into the ramdisk's files", async () => {
    const result = await injectFiles({
      files: [
        { path: '/etc/self/via-absolute-link', partition: 2, content: b64('a\n') },
        { path: '/etc/escape/via-host-path-link', partition: 2, content: b64('b\n') },
      ],
    });
    expect(result.command_status).toBe('SUCCEEDED');
    expect(existsSync(join(outside, 'via-host-path-link'))).toBe(false);
    expect(existsSync('/etc/via-absolute-link')).toBe(false);
    inspectPartition(2, (root) => {
      // /etc/self -> /etc of the image; the host folder's path recreated inside the image.
      expect(readFileSync(join(root, 'etc', 'via-absolute-link'), 'utf8')).toBe('a\n');
      expect(readFileSync(join(root, outside, 'via-host-path-link'), 'utf8')).toBe('b\n');
      expect(lstatSync(join(root, 'etc', 'escape')).isSymbolicLink()).toBe(true);
    });
  });

  it("refuses invalid files with IPA's messages before touching the disk", async () => {
    const result = await injectFiles({
      files: [
        { path: '/etc/x', content: b64('secret'), deleted: true },
        { path: '/rootfile', content: b64('x') },
        { path: '/etc/dir/' },
        { path: '/etc/y', mode: '0644', colour: 'red' },
        { path: '/../../etc/passwd', partition: 2, content: b64('x') },
        { content: b64('x') },
      ],
    });
    expect(result.command_status).toBe('FAILED');
    expect(result.command_error.type).toBe('InvalidCommandParamsError');
    const details: string = result.command_error.details;
    expect(details).toContain('Validation of files failed: ');
    expect(details).toContain("content cannot be used with deleted in {'path': '/etc/x', 'content': '***', 'deleted': True}");
    expect(details).toContain(`{'path': '/rootfile', 'content': '***'} in root directory requires "partition"`);
    expect(details).toContain("directories not supported for {'path': '/etc/dir/'}");
    expect(details).toContain("unexpected fields in {'path': '/etc/y', 'mode': '0644', 'colour': 'red'}: colour");
    expect(details).toContain("mode must be a number in {'path': '/etc/y', 'mode': '0644', 'colour': 'red'}");
    expect(details).toContain('points outside of its partition');
    expect(details).toContain("expected a path in {'content': '***'}");
    expect(details).not.toContain(b64('secret'));
  });

  it('verifies TLS unless verify_ca is false: the string "false" verifies, as in IPA', async () => {
    // Self-signed, so only an unverified fetch gets the content.
    const { key, cert } = selfSignedCert(scratch.dir);
    const https = await ImageServer.start({ key: readFileSync(key), cert: readFileSync(cert) });
    try {
      const url = https.serveBuffer('tls-config', 'over tls\n');
      for (const verify_ca of ['false', 'False', true]) {
        const refused = await injectFiles({ files: [{ path: '/etc/tls-config', partition: 2, content: url }], verify_ca });
        expect(refused.command_status, String(verify_ca)).toBe('FAILED');
        expect(refused.command_error.details).toMatch(/self[- ]signed certificate/i);
      }
      inspectPartition(2, (root) => expect(existsSync(join(root, 'etc', 'tls-config'))).toBe(false));
      const unverified = await injectFiles({
        files: [{ path: '/etc/tls-config', partition: 2, content: url }],
        verify_ca: false,
      });
      expect(unverified.command_status).toBe('SUCCEEDED');
      inspectPartition(2, (root) => expect(readFileSync(join(root, 'etc', 'tls-config'), 'utf8')).toBe('over tls\n'));
    } finally {
      await https.close();
    }
  });

  it('reports a file it cannot write, and does nothing without files', async () => {
    const failed = await injectFiles({ files: [{ path: '/EFI/modes', partition: 1, content: b64('x'), owner: 1000 }] });
    expect(failed.command_status).toBe('FAILED');
    expect(failed.command_error.type).toBe('CommandExecutionError');
    expect(failed.command_error.details).toMatch(
      /Failed to process file \{'path': '\/EFI\/modes', 'partition': 1, 'content': '\*\*\*', 'owner': 1000\}\. <class 'type'>: /,
    );
    const nothing = await injectFiles({});
    expect(nothing.command_status).toBe('SUCCEEDED');
    expect(nothing.command_result.deploy_result).toEqual({ injected: [], deleted: [] });
  });
});
