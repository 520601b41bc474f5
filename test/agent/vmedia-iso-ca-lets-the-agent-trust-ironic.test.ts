/**
 * Ironic's virtual media ISO carries its API's CA ([agent]api_ca_file) as
 * etc/ironic-python-agent/ironic.crt with etc/ironic-python-agent.d/ironic-tls.conf naming
 * it (image_utils.prepare_deploy_iso). A virtual media boot copies both into /etc, as IPA's
 * copy_config_from_vmedia does, and the agent's Ironic API client then trusts an HTTPS API
 * whose certificate that CA signed. Here /etc is a folder of the test's own, the media its
 * own loop device (an ISO where this kernel mounts iso9660, else ext4 with the same label
 * and files), and the API a stub on 127.0.0.1 with a certificate from a CA made here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { loadAgentConfig } from '../../src/agent/config/load.js';
import { run } from '../../src/hardware/exec.js';
import { listNetworkInterfaces } from '../../src/hardware/inventory/interfaces.js';
import { FakeConductor } from '../helpers/fake-conductor.js';
import { canUseLoopDevices, ScratchDevices } from '../helpers/loop-devices.js';
import { canMakeVirtualMedia, isMounted, makeMedia, sha256Of, testMediaSearch } from '../helpers/virtual-media.js';

// Ironic's image_utils._TLS_CONFIG_TEMPLATE.
const IRONIC_TLS_CONF = '[DEFAULT]\ncafile = /etc/ironic-python-agent/ironic.crt\n';

/** A CA, and a certificate for 127.0.0.1 it signed (openssl, as an operator makes them). */
function makeCaAndServerCertificate(dir: string): { caPem: string; cert: string; key: string } {
  const file = (name: string) => join(dir, name);
  const openssl = (args: string) => execFileSync('openssl', args.split(' '), { stdio: 'ignore' });
  const newKey = `-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes`;
  openssl(
    `req -x509 ${newKey} -days 2 -subj /CN=TestIronicCA -addext basicConstraints=critical,CA:TRUE ` +
      `-addext keyUsage=critical,keyCertSign,cRLSign -keyout ${file('ca.key')} -out ${file('ca.crt')}`,
  );
  openssl(`req -new ${newKey} -subj /CN=127.0.0.1 -keyout ${file('api.key')} -out ${file('api.csr')}`);
  writeFileSync(file('api.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(
    `x509 -req -in ${file('api.csr')} -CA ${file('ca.crt')} -CAkey ${file('ca.key')} -CAcreateserial ` +
      `-days 2 -extfile ${file('api.ext')} -out ${file('api.crt')}`,
  );
  return {
    caPem: readFileSync(file('ca.crt'), 'utf8'),
    cert: readFileSync(file('api.crt'), 'utf8'),
    key: readFileSync(file('api.key'), 'utf8'),
  };
}

describe.skipIf(!canUseLoopDevices() || !canMakeVirtualMedia())("the boot ISO's CA", () => {
  const devices = new ScratchDevices();
  let conductor: FakeConductor | undefined;
  let agent: RunningAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
    await conductor?.close();
    conductor = undefined;
    devices.cleanup();
  });

  it('is copied into /etc and the agent looks itself up over HTTPS trusting it; without the ISO it cannot', async () => {
    const tls = makeCaAndServerCertificate(mkdtempSync(join(devices.dir, 'pki-')));
    conductor = await FakeConductor.start({ maxVersion: '1.62', tls: { cert: tls.cert, key: tls.key } });
    conductor.addNode((await listNetworkInterfaces({ exec: run })).map((i) => i.mac_address));
    const iso = makeMedia(devices, {
      format: 'iso9660',
      label: 'config-2',
      files: {
        'etc/ironic-python-agent/ironic.crt': tls.caPem,
        'etc/ironic-python-agent.d/ironic-tls.conf': IRONIC_TLS_CONF,
        'openstack/latest/network_data.json': '{}',
      },
    });
    const before = sha256Of(iso.file);
    const cmdlineFile = join(devices.dir, 'cmdline');
    writeFileSync(cmdlineFile, `boot_method=vmedia ipa-api-url=${conductor.url}\n`);
    const flags = {
      config: { listenHost: '127.0.0.1', listenPort: 0, logLevel: 'silent' as const, discoverInstalledPlugins: false },
      cmdlineFile,
      help: false,
    };
    const load = async (links: Record<string, string>, extra: Record<string, unknown> = {}) => {
      const root = mkdtempSync(join(devices.dir, 'root-'));
      const reports: string[] = [];
      const config = await loadAgentConfig(
        { ...flags, config: { ...flags.config, lookupInterval: 0.05, ...extra } },
        { ipaConfigRoot: root, media: testMediaSearch(devices.dir, links, [iso.path]), report: (m) => reports.push(m) },
      );
      return { root, reports, config };
    };

    const { root, reports, config } = await load({ 'config-2': iso.path });
    expect(config.cafile).toBe(join(root, 'etc/ironic-python-agent/ironic.crt'));
    expect(readFileSync(config.cafile!, 'utf8')).toBe(tls.caPem);
    expect(readFileSync(join(root, 'etc/ironic-python-agent.d/ironic-tls.conf'), 'utf8')).toBe(IRONIC_TLS_CONF);
    expect(existsSync(join(root, 'openstack'))).toBe(false); // only IPA's two folders are copied
    expect(reports).toContain(
      `Copying configuration from /etc/ironic-python-agent.d on ${iso.path} to ${join(root, 'etc/ironic-python-agent.d')}`,
    );
    expect(isMounted(iso.path)).toBe(false);
    expect(sha256Of(iso.file)).toBe(before);

    agent = await startAgent({ config, logger: false });
    expect(conductor.lookups.at(-1)?.status).toBe(200);
    expect(agent.conductor).toBeDefined();
    await agent.close();
    agent = undefined;

    // The same boot without the ISO: the API's certificate is not trusted, the lookup never lands.
    const without = await load({}, { lookupTimeout: 0.5 });
    expect(without.config.cafile).toBeUndefined();
    const lookups = conductor.lookups.length;
    await expect(startAgent({ config: without.config, logger: false })).rejects.toThrow(/Could not look up node info/);
    expect(conductor.lookups.length).toBe(lookups);
  });
});
