/**
 * IPA's configuration directory (/etc/ironic-python-agent.d/*.conf, oslo.config ini files)
 * gives the agent's Ironic API client its TLS settings, as IPA's `[DEFAULT]` cafile,
 * certfile, keyfile and insecure: Ironic's virtual media ISO carries `ironic-tls.conf`
 * naming its API's CA there. Read under a root folder of the test's own, never this
 * machine's /etc.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseOsloIni, readIpaConfigDir } from '../../src/agent/config/ipa-config-dir.js';
import { loadAgentConfig } from '../../src/agent/config/load.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A root folder holding etc/ironic-python-agent.d with these files. */
function rootWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ramdisk-agent-ipa-conf-'));
  roots.push(root);
  mkdirSync(join(root, 'etc', 'ironic-python-agent.d'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'etc', 'ironic-python-agent.d', name), text);
  return root;
}

// Ironic's image_utils._TLS_CONFIG_TEMPLATE, as prepare_deploy_iso writes it.
const IRONIC_TLS_CONF = '[DEFAULT]\ncafile = /etc/ironic-python-agent/ironic.crt\n';

describe("IPA's configuration directory", () => {
  it("reads Ironic's ironic-tls.conf: cafile, a path of the machine the directory belongs to", () => {
    const root = rootWith({ 'ironic-tls.conf': IRONIC_TLS_CONF });
    const reports: string[] = [];
    expect(readIpaConfigDir(root, (m) => reports.push(m))).toEqual({
      cafile: join(root, 'etc/ironic-python-agent/ironic.crt'),
    });
    expect(reports).toEqual([`Read ${join(root, 'etc/ironic-python-agent.d/ironic-tls.conf')}: 1 TLS setting`]);
  });

  it('reads oslo.config ini as oslo does: separators, comments, quotes, continuation, later files win', () => {
    const values = parseOsloIni(
      [
        '# comment',
        '; comment too',
        '[DEFAULT]',
        'certfile: /a.pem',
        'keyfile = "/b.key"',
        'debug = True',
        'multi = first',
        '  second',
        '',
        '[agent]',
        'x = url=with:colon',
      ].join('\n'),
    );
    expect(Object.fromEntries(values)).toEqual({
      'DEFAULT.certfile': '/a.pem',
      'DEFAULT.keyfile': '/b.key',
      'DEFAULT.debug': 'True',
      'DEFAULT.multi': 'first\nsecond',
      'agent.x': 'url=with:colon',
    });

    const root = rootWith({
      '10-first.conf': '[DEFAULT]\ninsecure = yes\ncafile = relative.pem\n',
      '20-second.conf': '[DEFAULT]\ninsecure = OFF\ndebug = true\n[agent]\nfoo = 1\n',
      'ignored.txt': '[DEFAULT]\ninsecure = true\n',
    });
    const reports: string[] = [];
    expect(readIpaConfigDir(root, (m) => reports.push(m))).toEqual({ insecure: false, cafile: 'relative.pem' });
    expect(reports[1]).toMatch(/1 TLS setting; IPA's options \[DEFAULT\] debug, \[agent\] foo are not this agent's/);
  });

  it('a value oslo would refuse stops the agent, naming the file', () => {
    const root = rootWith({ 'tls.conf': '[DEFAULT]\ninsecure = maybe\n' });
    expect(() => readIpaConfigDir(root, () => undefined)).toThrow(/tls\.conf: insecure = maybe is not a boolean/);
  });

  it('no directory: nothing set, nothing said', () => {
    const reports: string[] = [];
    const root = mkdtempSync(join(tmpdir(), 'ramdisk-agent-ipa-conf-'));
    roots.push(root);
    expect(readIpaConfigDir(root, (m) => reports.push(m))).toEqual({});
    expect(reports).toEqual([]);
  });

  it('wins over the kernel command line, as in IPA (ipa-insecure is only its default); flags win over it', async () => {
    const root = rootWith({ 'ironic-tls.conf': `${IRONIC_TLS_CONF}insecure = true\n` });
    const cmdlineFile = join(root, 'cmdline');
    writeFileSync(cmdlineFile, 'ipa-insecure=0 ipa-api-url=https://192.0.2.1:6385\n');
    const options = { ipaConfigRoot: root, report: () => undefined };
    const config = await loadAgentConfig({ config: {}, cmdlineFile, help: false }, options);
    expect(config.insecure).toBe(true);
    expect(config.cafile).toBe(join(root, 'etc/ironic-python-agent/ironic.crt'));
    const flagged = await loadAgentConfig({ config: { insecure: false }, cmdlineFile, help: false }, options);
    expect(flagged.insecure).toBe(false);
  });
});
