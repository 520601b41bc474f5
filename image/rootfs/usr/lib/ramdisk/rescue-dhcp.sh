# DHCP after rescue.finalize_rescue (busybox sh, sourced by rescue-sshd after functions.sh).
# Once finalize_rescue has answered, Ironic moves the node's ports from the rescuing network to
# the tenant network (agent_base's _finalize_rescue: rescue clean_up, then
# configure_tenant_networks), and the user SSHes in on the tenant network. A udhcpc that holds
# a lease from the rescuing network never notices: it asks again only at T1 (12 h with
# Neutron's default 24 h lease), and the ramdisk would stay unreachable until then.
#
# What IPA's ramdisks do: tinyipa (bootlocal.sh, configure_dhcp_network once IPA exited and the
# rescue user exists) killed every udhcpc, slept 30 s "as network interface is being updated"
# and started udhcpc again on every interface with a link; DIB's ramdisks leave it to
# NetworkManager or systemd-networkd (ironic-python-agent-builder enables systemd-networkd on
# Debian for rescue), which run DHCP again when a link goes down and up, and only on the
# interfaces they configure by DHCP: glean's static ones (network_data.json) stay as they are.
#
# Here, as there, only the NICs DHCP configured at boot ($DHCP_NICS_FILE): those configured
# from ip= or network_data.json keep their addresses and routes. Where this differs: instead of
# tinyipa's fixed 30 s (too long when Ironic is quick, too short when a switch is slow) and of
# waiting for a link bounce (a switch port moved to another VLAN usually keeps its link), each
# NIC's DHCP server is asked every RESCUE_DHCP_INTERVAL seconds, for RESCUE_DHCP_WINDOW
# seconds, what it would give now, by a udhcpc of its own that configures nothing
# (dhcp-probe). The NIC's udhcpc is restarted only when that answer is another address: a
# network that did not change (Ironic without Neutron, a NIC outside Ironic) keeps its lease
# and SSH sessions, and nothing changes before Ironic moved the ports, so finalize_rescue's
# answer is never cut off. A NIC without a lease keeps its udhcpc, which asks every few seconds
# anyway.
RESCUE_DHCP_WINDOW=${RESCUE_DHCP_WINDOW:-300}
RESCUE_DHCP_INTERVAL=${RESCUE_DHCP_INTERVAL:-5}

nic_ipv4() { ip -4 -o addr show dev "$1" scope global 2>/dev/null | awk '{print $4; exit}'; }
dhcp_metric() { awk -v nic="$1" '$1 == nic {print $2; exit}' "$DHCP_NICS_FILE"; }

# Asks NIC's DHCP server for a lease as a new client would (DISCOVER, REQUEST; the server keeps
# the lease it has for this MAC), beside the NIC's own udhcpc: -q ends it at the lease, -n after
# 2 discovers 2 s apart without one. dhcp-probe writes "<address>/<prefix>" to $2.
probe_dhcp() {
  PROBE_OUT=$2 udhcpc -f -q -n -t 2 -T 2 -i "$1" -s "$RAMDISK_LIB/dhcp-probe" >/dev/null 2>&1
}

# A new udhcpc on NIC, with the route metric it had: the old one goes without a release (as
# tinyipa's `kill`; the rescuing network's server is gone or forgets the port anyway), the new
# one starts from no address (the hook's deconfig) and takes the lease just offered.
restart_dhcp() {
  local pid
  pid=$(cat "$RUN_DIR/udhcpc.$1.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
  start_dhcp "$1" "$(dhcp_metric "$1")"
}

# Up to 10 s for NIC's new lease (the server has just offered it).
await_lease() {
  local waited=0
  while [ "$waited" -lt 50 ]; do
    has_ipv4 "$1" && return 0
    sleep 0.2
    waited=$((waited + 1))
  done
  return 1
}

renew_dhcp_for_rescue() {
  local state="$RUN_DIR/rescue-dhcp" nics nic pending next probes elapsed=0 before now offer
  nics=$(awk '{print $1}' "$DHCP_NICS_FILE" 2>/dev/null | tr '\n' ' ')
  if [ -z "$nics" ]; then
    say "rescue: no NIC has DHCP: the network stays as configured at boot"
    return 0
  fi
  mkdir -p "$state"
  for nic in $nics; do nic_ipv4 "$nic" >"$state/before.$nic"; done
  say "rescue: watching DHCP on ${nics% } for the tenant network's addresses (every $RESCUE_DHCP_INTERVAL s, up to $RESCUE_DHCP_WINDOW s)"
  pending=$nics
  while [ -n "$pending" ] && [ "$elapsed" -lt "$RESCUE_DHCP_WINDOW" ]; do
    probes=
    for nic in $pending; do
      rm -f "$state/offer.$nic"
      [ -n "$(nic_ipv4 "$nic")" ] && has_carrier "$nic" || continue
      probe_dhcp "$nic" "$state/offer.$nic" &
      probes="$probes $!"
    done
    # Only the probes: a udhcpc just started stays in the foreground until its first lease.
    [ -n "$probes" ] && wait $probes
    next=
    for nic in $pending; do
      before=$(cat "$state/before.$nic")
      now=$(nic_ipv4 "$nic")
      offer=$(cat "$state/offer.$nic" 2>/dev/null)
      if [ -n "$offer" ] && [ "$offer" != "$now" ]; then
        say "rescue: $nic: DHCP now offers $offer (it had $now): restarting DHCP on it"
        restart_dhcp "$nic"
        await_lease "$nic"
        now=$(nic_ipv4 "$nic")
      fi
      if [ -n "$now" ] && [ "$now" != "$before" ]; then
        say "rescue: $nic $now (DHCP; it had ${before:-no address}): ssh rescue@${now%/*}"
      else
        next="$next $nic"
      fi
    done
    pending=$next
    [ -n "$pending" ] || break
    sleep "$RESCUE_DHCP_INTERVAL"
    elapsed=$((elapsed + RESCUE_DHCP_INTERVAL))
  done
  for nic in $pending; do
    now=$(nic_ipv4 "$nic")
    if [ -n "$now" ]; then
      say "rescue: $nic keeps $now (no other DHCP offer in $RESCUE_DHCP_WINDOW s): ssh rescue@${now%/*}"
    else
      say "rescue: $nic has no DHCP lease (its udhcpc keeps asking)"
    fi
  done
  say "rescue: network: $(ip -o addr show scope global | awk '{print $2, $4}' | tr '\n' ' ')"
}
