// Reads an OpenStack network_data.json (the config drive's openstack/latest/network_data.json,
// which Ironic writes on the virtual media ISO of a node with network_data) and prints, one a
// line, what /init's network set-up does with it (config-drive.sh runs each line):
//   nic <name>        a NIC the file configures: it gets no DHCP of its own
//   wait <name>       a NIC with a static address: /init waits for its carrier
//   module <name>     a kernel module to load first (8021q for VLANs)
//   ip <args>         an `ip` command, run in order
//   dhcp <name>       udhcpc on that interface (type ipv4_dhcp)
//   dns <address>     a nameserver for /etc/resolv.conf
//   say|warn <text>   a message for the console
// Usage: node network-data.mjs FILE NAME=MAC... (the machine's NICs, from /sys/class/net).
// A file that is not such a document exits 1 with the reason on stderr and prints nothing:
// the whole file is judged before any line is printed, so a malformed one changes nothing.
// Every token printed is checked here (IP addresses by node:net, names against the kernel's
// rules, numbers as numbers), because the shell runs `ip` with them word-split.
//
// What is done follows glean (ironic-python-agent-builder's simple-init element), which reads
// this file in IPA's ramdisks: links are matched to NICs by MAC (vlan and bond links by the
// links they sit on); a network of type ipv4 or ipv6 gives a static address, its routes
// (0.0.0.0/0 and ::/0 are the default route); ipv4_dhcp runs DHCP; a link the file lists
// with no network is brought up with no address (glean's "manual"); the top-level services
// of type dns are the nameservers. Where this differs, it says so below.
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';

const MAX_BYTES = 1024 * 1024;
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/; // IFNAMSIZ is 16 with the NUL

class Malformed extends Error {}
const fail = (message) => {
  throw new Malformed(message);
};
/** Free text from the file, safe on one console line. */
const text = (value) =>
  String(value)
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 80);

function prefixOf(mask, family, where) {
  if (typeof mask === 'number' || /^\d+$/.test(String(mask))) {
    const bits = Number(mask);
    if (bits <= (family === 4 ? 32 : 128)) return bits;
    fail(`${where}: prefix length ${text(mask)} is too long`);
  }
  if (typeof mask !== 'string' || isIP(mask) !== family) fail(`${where}: '${text(mask)}' is not a netmask`);
  // IPv6 masks come written out ("ffff:ffff:ffff:ffff::", nova's and glean's form).
  const bits =
    family === 4
      ? mask.split('.').map((octet) => Number(octet).toString(2).padStart(8, '0'))
      : expand6(mask).map((group) => parseInt(group, 16).toString(2).padStart(16, '0'));
  const binary = bits.join('');
  if (!/^1*0*$/.test(binary)) fail(`${where}: '${text(mask)}' is not a netmask`);
  return binary.indexOf('0') === -1 ? binary.length : binary.indexOf('0');
}

function expand6(address) {
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  return [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
}

/** An address as "ip_address" gives it, with "netmask" (nova's IPv6 may carry "/<prefix>" instead). */
function addressOf(network, family, where) {
  const [address, inline] = String(network.ip_address ?? '').split('/');
  if (isIP(address) !== family) fail(`${where}: ip_address '${text(network.ip_address)}' is not an IPv${family} address`);
  const mask = inline ?? network.netmask;
  if (mask === undefined || mask === null || mask === '') fail(`${where}: no netmask`);
  return `${address}/${prefixOf(mask, family, where)}`;
}

function routesOf(network, family, device, where) {
  if (network.routes === undefined || network.routes === null) return [];
  if (!Array.isArray(network.routes)) fail(`${where}: routes is not a list`);
  return network.routes.map((route, i) => {
    const at = `${where} route ${i}`;
    if (typeof route !== 'object' || route === null) fail(`${at}: not an object`);
    if (isIP(route.gateway) !== family) fail(`${at}: gateway '${text(route.gateway)}' is not an IPv${family} address`);
    if (isIP(route.network) !== family) fail(`${at}: network '${text(route.network)}' is not an IPv${family} address`);
    const prefix = prefixOf(route.netmask, family, at);
    const destination = prefix === 0 ? 'default' : `${route.network}/${prefix}`;
    return `ip ${family === 6 ? '-6 ' : ''}route add ${destination} via ${route.gateway} dev ${device}`;
  });
}

/** The plan's lines for `doc` on a machine whose NICs are `nics` (MAC -> name). */
function plan(doc, nics) {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('not a JSON object');
  const list = (key) => {
    if (doc[key] === undefined || doc[key] === null) return [];
    if (!Array.isArray(doc[key])) fail(`"${key}" is not a list`);
    return doc[key];
  };
  const links = new Map();
  for (const [i, link] of list('links').entries()) {
    if (typeof link !== 'object' || link === null || typeof link.id !== 'string' || link.id === '') {
      fail(`link ${i}: not an object with an "id"`);
    }
    if (links.has(link.id)) fail(`link '${text(link.id)}' is listed twice`);
    if (link.mtu !== undefined && link.mtu !== null && !(Number.isInteger(link.mtu) && link.mtu >= 68 && link.mtu <= 65535)) {
      fail(`link '${text(link.id)}': mtu '${text(link.mtu)}' is not a number from 68 to 65535`);
    }
    links.set(link.id, link);
  }
  const networks = list('networks');
  const used = new Set(networks.map((n) => n?.link));
  const bonded = new Map(); // member link id -> bond id
  for (const link of links.values()) {
    if (link.type === 'bond' && Array.isArray(link.bond_links)) for (const member of link.bond_links) bonded.set(member, link.id);
  }
  const out = [];
  const device = new Map(); // link id -> interface name, for the links this machine has
  const named = new Set();
  const mtu = (link, name) => {
    // glean writes no MTU; cloud-init, the other reader of this file, sets each link's.
    if (link.mtu) out.push(`ip link set dev ${name} mtu ${link.mtu}`);
  };
  for (const link of links.values()) {
    const where = `link '${text(link.id)}'`;
    if (link.type === 'vlan') {
      if (!Number.isInteger(Number(link.vlan_id)) || Number(link.vlan_id) < 1 || Number(link.vlan_id) > 4094) {
        fail(`${where}: vlan_id '${text(link.vlan_id)}' is not a number from 1 to 4094`);
      }
      if (typeof link.vlan_link !== 'string') fail(`${where}: no vlan_link`);
      if (link.vlan_mac_address !== undefined && !MAC.test(String(link.vlan_mac_address).toLowerCase())) {
        fail(`${where}: vlan_mac_address '${text(link.vlan_mac_address)}' is not a MAC address`);
      }
      continue; // made below, once the link it sits on is known
    }
    if (link.type === 'bond') {
      // No bonding driver in the image (image/modules.list): glean would make the bond; here
      // its member NICs are left as the file did not name them (DHCP, below).
      out.push(
        `warn network_data.json: ${where} is a bond, which this ramdisk cannot make: ignored, with the networks and VLANs on it`,
      );
      continue;
    }
    if (bonded.has(link.id) && !used.has(link.id)) {
      out.push(
        `say network_data.json: ${where} is a member of bond '${text(bonded.get(link.id))}', which is not made: left to DHCP`,
      );
      continue;
    }
    // phy, vif, ovs, tap, null... : glean takes every other type for a NIC, found by its MAC.
    const mac = String(link.ethernet_mac_address ?? '').toLowerCase();
    if (!MAC.test(mac)) fail(`${where}: ethernet_mac_address '${text(link.ethernet_mac_address)}' is not a MAC address`);
    const name = nics.get(mac);
    if (!name) {
      out.push(`say network_data.json: ${where} (${mac}) is no NIC of this machine: ignored`);
      continue;
    }
    device.set(link.id, name);
    named.add(name);
    out.push(`nic ${name}`);
    mtu(link, name);
  }
  for (const link of links.values()) {
    if (link.type !== 'vlan' || !used.has(link.id)) continue; // glean makes a VLAN only for a network on it
    const parent = device.get(link.vlan_link);
    if (!parent && links.get(link.vlan_link)?.type === 'bond') continue; // said with the bond
    if (!parent) {
      out.push(
        `warn network_data.json: vlan link '${text(link.id)}' sits on '${text(link.vlan_link)}', which is no NIC here: ignored`,
      );
      continue;
    }
    // glean's name, <raw device>.<vlan id>; when that is longer than the kernel allows
    // (enp129s0f1np1.4094), vlan<id>.
    let name = `${parent}.${Number(link.vlan_id)}`;
    if (!IFNAME.test(name)) name = `vlan${Number(link.vlan_id)}`;
    if ([...device.values()].includes(name)) fail(`link '${text(link.id)}': a second VLAN named ${name}`);
    device.set(link.id, name);
    if (!out.includes('module 8021q')) out.push('module 8021q');
    out.push(`ip link add link ${parent} name ${name} type vlan id ${Number(link.vlan_id)}`);
    const mac = link.vlan_mac_address && String(link.vlan_mac_address).toLowerCase();
    if (mac && nics.get(mac) !== parent) out.push(`ip link set dev ${name} address ${mac}`);
    mtu(link, name);
    out.push(`ip link set dev ${name} up`);
  }
  const dns = [];
  const serviceDns = (services, where) => {
    if (services === undefined || services === null) return;
    if (!Array.isArray(services)) fail(`${where}: services is not a list`);
    for (const service of services) {
      if (service?.type !== 'dns') continue;
      if (!isIP(service.address)) fail(`${where}: dns address '${text(service.address)}' is not an IP address`);
      if (!dns.includes(service.address)) dns.push(service.address);
    }
  };
  serviceDns(doc.services, 'services');
  for (const [i, network] of networks.entries()) {
    if (typeof network !== 'object' || network === null) fail(`network ${i}: not an object`);
    const where = `network '${text(network.id ?? i)}'`;
    const name = device.get(network.link);
    if (!name) {
      if (!links.has(network.link))
        out.push(`warn network_data.json: ${where} is on link '${text(network.link)}', which is not listed: ignored`);
      continue;
    }
    // The NIC a static address waits for: a VLAN's carrier is its NIC's.
    const nic = named.has(name) ? name : device.get(links.get(network.link).vlan_link);
    switch (network.type) {
      case 'ipv4':
      case 'ipv6': {
        const family = network.type === 'ipv4' ? 4 : 6;
        const address = addressOf(network, family, where);
        const routes = routesOf(network, family, name, where);
        out.push(`ip ${family === 6 ? '-6 ' : ''}addr add ${address} dev ${name}`, ...routes, `wait ${nic}`);
        const gateway = network.routes?.find((r) => prefixOf(r.netmask, family, where) === 0)?.gateway;
        out.push(`say ${name} ${address}${gateway ? ` via ${gateway}` : ''} (static, from network_data.json)`);
        // glean reads the top-level services only; nova also lists a network's own servers
        // in it (rax-iad's), which cloud-init reads as well.
        serviceDns(network.services, where);
        break;
      }
      case 'ipv4_dhcp':
        out.push(`dhcp ${name}`);
        break;
      case 'ipv6_slaac':
      case 'ipv6_dhcpv6-stateless':
        // The kernel's SLAAC (accept_ra) is on for every NIC already; stateless DHCPv6 would
        // add DNS servers, and busybox-static has no DHCPv6 client.
        out.push(`say ${name}: IPv6 from router advertisements (${network.type})`);
        break;
      case 'ipv6_dhcpv6-stateful':
      case 'ipv6_dhcp':
        out.push(
          `warn network_data.json: ${where} on ${name} asks for DHCPv6, which this ramdisk has no client for: router advertisements (SLAAC) only`,
        );
        break;
      default:
        out.push(`warn network_data.json: ${where} has type '${text(network.type)}', unknown here: ignored`);
    }
  }
  for (const address of dns) out.push(`dns ${address}`);
  return out;
}

function main([file, ...nicArgs]) {
  const nics = new Map();
  for (const arg of nicArgs) {
    const [name, mac] = arg.split('=');
    if (IFNAME.test(name) && MAC.test(mac ?? '')) nics.set(mac, name);
  }
  try {
    if (statSync(file).size > MAX_BYTES) fail(`larger than ${MAX_BYTES} bytes`);
    let doc;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      fail(`not JSON (${text(error.message)})`);
    }
    process.stdout.write(
      plan(doc, nics)
        .map((line) => `${line}\n`)
        .join(''),
    );
  } catch (error) {
    process.stderr.write(`${error instanceof Malformed ? error.message : text(error.message)}\n`);
    process.exitCode = 1;
  }
}

main(process.argv.slice(2));
