# Network set-up of the ramdisk (busybox sh, sourced by functions.sh).
#  - static addresses from ip= in the dracut/klibc form:
#      ip=<client>:<peer>:<gateway>:<netmask>:<hostname>:<interface>:<none|off>[:<dns1>[:<dns2>]]
#    IPv6 addresses go in brackets, the netmask may be a prefix length;
#  - ip=<method> or ip=<interface>:<method> with method dhcp|on|any|dhcp6|auto6|off|none;
#    as dracut, once an ip= names a NIC or gives a static address only the NICs named are
#    configured (a bare ip=dhcp beside them keeps DHCP on the others);
#  - first of all, on a virtual media boot whose config drive holds network_data.json (a
#    DHCP-less boot, config-drive.sh), the NICs that file names as it says; ip= then applies
#    to the others only, and an ip= naming one of them is ignored;
#  - otherwise DHCPv4 on every NIC, cabled or not (udhcpc keeps trying in the background),
#    the BOOTIF= NIC first (its default route wins, its DNS servers come first); /init waits
#    only for the BOOTIF NIC's lease. IPv6: the kernel's SLAAC (accept_ra) on every NIC;
#    busybox-static has no DHCPv6 client, so stateful DHCPv6-only networks get no address.
# SYS_NET, RUN_DIR and UDHCPC_HOOK can be overridden to exercise this outside a ramdisk (test/image).
SYS_NET=${SYS_NET:-/sys/class/net}
RUN_DIR=${RUN_DIR:-/run}
UDHCPC_HOOK=${UDHCPC_HOOK:-/usr/share/udhcpc/default.script}
# The NICs DHCP configures, "<nic> <route metric>" a line: rescue-dhcp.sh restarts their
# udhcpc after rescue.finalize_rescue (statically configured NICs are not in it).
DHCP_NICS_FILE=$RUN_DIR/ramdisk-dhcp-nics
. "$RAMDISK_LIB/resolv.sh"
. "$RAMDISK_LIB/config-drive.sh"

nic_list() {
  local dev
  for dev in "$SYS_NET"/*; do
    [ -e "$dev/device" ] || continue # physical NICs only (no lo, bonds, VLANs)
    [ "$(cat "$dev/type" 2>/dev/null)" = 1 ] || continue
    echo "${dev##*/}"
  done
}
nic_mac() { cat "$SYS_NET/$1/address" 2>/dev/null; }
has_carrier() { [ "$(cat "$SYS_NET/$1/carrier" 2>/dev/null)" = 1 ]; }
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
has_ipv4() { ip -4 -o addr show dev "$1" scope global 2>/dev/null | grep -q inet; }

# The BOOTIF NIC first, then the others in name order.
ordered_nics() {
  local nic
  for nic in $(nic_list); do [ "$(nic_mac "$nic")" = "$BOOTIF_MAC" ] && echo "$nic"; done
  for nic in $(nic_list); do [ "$(nic_mac "$nic")" = "$BOOTIF_MAC" ] || echo "$nic"; done
}

prefix_of() {
  # 255.255.255.0 -> 24; 24 -> 24
  local mask=$1 bits=0 octet ended=
  if is_uint "$mask"; then echo "$mask"; return 0; fi
  echo "$mask" | grep -qE '^([0-9]+\.){3}[0-9]+$' || return 1
  for octet in $(echo "$mask" | tr . ' '); do
    # after the first octet below 255 only zeros may follow (255.0.255.0 is no netmask)
    [ -n "$ended" ] && [ "$octet" != 0 ] && return 1
    [ "$octet" = 255 ] || ended=1
    case "$octet" in
      255) bits=$((bits + 8)) ;; 254) bits=$((bits + 7)) ;; 252) bits=$((bits + 6)) ;;
      248) bits=$((bits + 5)) ;; 240) bits=$((bits + 4)) ;; 224) bits=$((bits + 3)) ;;
      192) bits=$((bits + 2)) ;; 128) bits=$((bits + 1)) ;; 0) ;; *) return 1 ;;
    esac
  done
  echo "$bits"
}

# Splits an ip= value on ':' outside [...] into fields separated by '|', brackets removed.
split_ip_param() {
  echo "$1" | awk '{
    out = ""; inb = 0
    for (i = 1; i <= length($0); i++) {
      c = substr($0, i, 1)
      if (c == "[") { inb = 1; continue }
      if (c == "]") { inb = 0; continue }
      if (c == ":" && !inb) c = "|"
      out = out c
    }
    print out
  }'
}

valid_ip() {
  if echo "$1" | grep -qE '^([0-9]{1,3}\.){3}[0-9]{1,3}$'; then
    for octet in $(echo "$1" | tr . ' '); do [ "$octet" -le 255 ] || return 1; done
    return 0
  fi
  echo "$1" | grep -qE '^[0-9a-fA-F:]+$' && echo "$1" | grep -q : && return 0
  return 1
}

# ip=<client>:<peer>:<gw>:<mask>:<hostname>:<iface>:<method>:<dns1>:<dns2>
configure_static() {
  local param=$1 client gw mask host iface method dns1 dns2 prefix fields max_prefix
  fields=$(split_ip_param "$param")
  IFS='|' read -r client _ gw mask host iface method dns1 dns2 _ <<EOF
$fields
EOF
  case "$method" in '' | none | off | static) ;; *)
    bad_param "ip=$param" "a static address with method '$method' (expected none or off): ignored"
    return 1 ;;
  esac
  if ! valid_ip "$client"; then bad_param "ip=$param" "'$client' is not an IP address: ignored"; return 1; fi
  if [ -z "$mask" ]; then
    case "$client" in *:*) mask=64 ;; *) mask=24 ;; esac
  fi
  case "$client" in *:*) max_prefix=128 ;; *) max_prefix=32 ;; esac
  if ! prefix=$(prefix_of "$mask") || [ "$prefix" -gt "$max_prefix" ]; then
    bad_param "ip=$param" "'$mask' is not a netmask or prefix length: ignored"
    return 1
  fi
  if [ -n "$gw" ] && ! valid_ip "$gw"; then bad_param "ip=$param" "gateway '$gw' is not an IP address: ignored"; return 1; fi
  [ -n "$iface" ] || iface=$(ordered_nics | head -n 1)
  if [ -z "$iface" ] || [ ! -e "$SYS_NET/$iface" ]; then
    bad_param "ip=$param" "no network interface '${iface:-(none found)}'; present: $(nic_list | tr '\n' ' ')"
    return 1
  fi
  if in_list "$iface" "$ND_NICS"; then bad_param "ip=$param" "$iface is configured from network_data.json: ignored"; return 1; fi
  ip link set "$iface" up
  ip addr add "$client/$prefix" dev "$iface" || { warn "ip=$param: could not add $client/$prefix to $iface"; return 1; }
  [ -n "$gw" ] && { ip route add default via "$gw" dev "$iface" || warn "ip=$param: could not add the default route via $gw"; }
  [ -n "$host" ] && hostname "$host"
  for d in $dns1 $dns2; do
    if valid_ip "$d"; then echo "nameserver $d"; fi
  done | dns_set "00-$iface"
  STATIC_NICS="$STATIC_NICS $iface"
  NAMED_NICS="$NAMED_NICS $iface"
  say "network: $iface $client/$prefix${gw:+ via $gw} (static, from ip=)"
}

setup_network() {
  local param fields first second nic metric want bare= named_dhcp= dhcp_rest long_device long_method
  STATIC_NICS=
  NAMED_NICS=
  V6_NICS=
  DHCP_NICS=
  BOOTIF_NIC=
  # Every link comes up whatever ip= says: the agent's inspection reads LLDP on each NIC.
  for nic in $(nic_list); do ip link set "$nic" up; done
  ip link set lo up
  if [ -n "$BOOTIF_MAC" ]; then
    for nic in $(nic_list); do [ "$(nic_mac "$nic")" = "$BOOTIF_MAC" ] && BOOTIF_NIC=$nic; done
    [ -n "$BOOTIF_NIC" ] || warn "BOOTIF=$BOOTIF_MAC matches no NIC here ($(for n in $(nic_list); do printf '%s ' "$n=$(nic_mac "$n")"; done))"
  fi
  # Before any DHCP: a NIC the config drive configures must not ask for a lease first.
  configure_from_config_drive
  STATIC_NICS=$ND_WAIT
  for param in $IP_PARAMS; do
    fields=$(split_ip_param "$param")
    # The kernel's long form without a client address, DHCP with a hostname or a device
    # (ip=::::<hostname>:<device>:<autoconf>): read as <device>:<autoconf>, or as a bare
    # <autoconf> (dhcp when empty) when it names no device.
    case "$fields" in
      '|'*'|'*'|'*'|'*'|'*)
        long_device=$(echo "$fields" | cut -d'|' -f6)
        long_method=$(echo "$fields" | cut -d'|' -f7)
        if [ -n "$long_device" ]; then fields="$long_device|$long_method"; else fields=${long_method:-dhcp}; fi
        ;;
    esac
    first=${fields%%|*}
    case "$fields" in *'|'*) second=${fields#*|}; second=${second%%|*} ;; *) second= ;; esac
    case "$fields" in
      dhcp | on | any | auto | both) bare=dhcp ;;
      dhcp6 | auto6 | either6) bare=v6; say "network: ip=$param: IPv6 autoconfiguration only" ;;
      off | none) bare=off; say "network: ip=$param: no automatic configuration" ;;
      *)
        if [ "$fields" = "${fields#*|}" ]; then
          bad_param "ip=$param" "unknown method '$param' (expected dhcp, on, any, dhcp6, auto6, off, none or a static address): ignored"
        elif valid_ip "$first" || [ "${param#[}" != "$param" ]; then
          configure_static "$param"
        elif [ -e "$SYS_NET/$first" ] && in_list "$first" "$ND_NICS"; then
          bad_param "ip=$param" "$first is configured from network_data.json: ignored"
        elif [ -e "$SYS_NET/$first" ]; then
          case "$second" in
            dhcp | on | any | '') named_dhcp="$named_dhcp $first"; NAMED_NICS="$NAMED_NICS $first" ;;
            dhcp6 | auto6 | either6) V6_NICS="$V6_NICS $first"; NAMED_NICS="$NAMED_NICS $first" ;;
            off | none) NAMED_NICS="$NAMED_NICS $first" ;;
            *) bad_param "ip=$param" "unknown method '$second' for $first: ignored" ;;
          esac
        else
          bad_param "ip=$param" "'$first' is neither an IP address nor a network interface (present: $(nic_list | tr '\n' ' ')): ignored"
        fi
        ;;
    esac
  done

  # Which NICs get DHCPv4, as dracut decides: every NIC unless a bare ip=off or ip=dhcp6 says
  # otherwise; but once an ip= names a NIC (or gives one a static address), only the NICs
  # named for DHCP. A bare ip=dhcp beside named ones keeps DHCP on the NICs not named, as
  # NetworkManager's initrd generator reads the mix (dracut's network-legacy refuses it).
  case "$bare" in '' | dhcp) dhcp_rest=1 ;; *) dhcp_rest=0 ;; esac
  [ -n "$NAMED_NICS" ] && [ "$bare" != dhcp ] && dhcp_rest=0
  # udhcpc on every such NIC whatever its carrier: a switch port running STP or LACP often
  # brings its link (or its forwarding) up 30 s or more after ours, and nothing would start
  # DHCP later. DIB's dhcp-all-interfaces does the same from a udev rule (and waits up to
  # 30 s per interface); here one NIC is waited for (below). Route metrics in order of
  # preference: the BOOTIF NIC, those ip= names (in their order), the others by name.
  metric=100
  for nic in $BOOTIF_NIC $ND_DHCP $named_dhcp $(nic_list); do
    case " $DHCP_NICS " in *" $nic "*) continue ;; esac
    case " $named_dhcp $ND_DHCP " in
      *" $nic "*) ;;
      *)
        [ "$dhcp_rest" = 1 ] || continue
        case " $NAMED_NICS $ND_NICS " in *" $nic "*) continue ;; esac
        ;;
    esac
    start_dhcp "$nic" "$metric"
    echo "$nic $metric" >>"$DHCP_NICS_FILE"
    metric=$((metric + 1))
    DHCP_NICS="$DHCP_NICS $nic"
  done

  # The NIC the agent's lookup should find ready: the BOOTIF NIC, else the first NIC
  # network_data.json gives an address, else the first NIC ip= configures; its lease (DHCP) or
  # carrier (static, IPv6 only). Without one, the first lease.
  want=
  for nic in $BOOTIF_NIC $ND_WAIT $ND_DHCP $NAMED_NICS; do
    case " $DHCP_NICS $STATIC_NICS $V6_NICS " in *" $nic "*) want=$nic; break ;; esac
  done
  if [ -n "$BOOTIF_NIC" ] && [ "$want" != "$BOOTIF_NIC" ]; then
    case " $ND_NICS " in
      *" $BOOTIF_NIC "*) say "network: the BOOTIF NIC $BOOTIF_NIC is given no address by network_data.json" ;;
      *) say "network: the BOOTIF NIC $BOOTIF_NIC is left unconfigured by ip=$(echo $IP_PARAMS | sed 's/ / ip=/g')" ;;
    esac
  fi
  if [ -z "$DHCP_NICS$STATIC_NICS$V6_NICS" ] && [ "$bare" != v6 ]; then
    if [ -n "$ND_NICS" ]; then
      warn "network: network_data.json names$ND_NICS but gives none an address, and no other NIC gets one: only router advertisements (IPv6) can give this machine an address"
    else
      warn "network: ip=$(echo $IP_PARAMS | sed 's/ / ip=/g') configures no NIC: only router advertisements (IPv6) can give this machine an address"
    fi
  fi
  if [ -n "$want" ]; then
    case " $DHCP_NICS " in *" $want "*) wait_for_lease "$want" ;; *) wait_for_carrier "$want" ;; esac
  elif [ -n "$DHCP_NICS" ]; then
    wait_for_lease $DHCP_NICS
  elif [ "$bare" = v6 ]; then
    wait_for_carrier $(nic_list)
  fi
  say "network: $(ip -o addr show scope global | awk '{print $2, $4}' | tr '\n' ' ')"
}

# One udhcpc per NIC, for the life of the ramdisk. -t 5 -T 2: a discover every 2 s for 10 s,
# then -A 2: a 2 s pause, and again, for ever (-b: in the background once the first round
# found no lease). A link that comes up late is asked within ~4 s. METRIC orders the default
# routes (udhcpc's hook): the BOOTIF NIC's is 100, the lowest, so it wins. -O mtu: most DHCP
# servers (dnsmasq, ISC) send option 26 only to a client that asks for it, and busybox's
# udhcpc does not by default (dhclient, which DIB's ramdisks run, does).
start_dhcp() {
  step "network: DHCP on $1 (route metric $2)"
  METRIC=$2 udhcpc -b -t 5 -T 2 -A 2 -O mtu -i "$1" -p "$RUN_DIR/udhcpc.$1.pid" \
    -s "$UDHCPC_HOOK" -x hostname:ramdisk >>"$INIT_LOG" 2>&1 &
}

# Up to 30 s (DIB's dhcp-all-interfaces waits as long per NIC) for a lease on one of the NICs
# given: the agent looks the node up as soon as it starts (and backs off up to 60 s between
# failed lookups), while a NIC with no cable must not hold up every boot. The other NICs get
# theirs in the background.
wait_for_lease() {
  local nic what="any NIC" waited=0
  while [ "$waited" -lt 150 ]; do
    for nic in "$@"; do has_ipv4 "$nic" && return 0; done
    sleep 0.2
    waited=$((waited + 1))
  done
  [ $# = 1 ] && what=$1
  [ $# = 1 ] && [ "$1" = "$BOOTIF_NIC" ] && what="$1 (BOOTIF)"
  warn "network: no DHCP lease on $what after 30 s (still trying in the background on$DHCP_NICS)"
}

# Without DHCP on it (static ip=, ip=dhcp6): up to 10 s for a carrier on one of the NICs given,
# so the agent's first lookup has a link.
wait_for_carrier() {
  local nic waited=0
  while [ "$waited" -lt 50 ]; do
    for nic in "$@"; do has_carrier "$nic" && return 0; done
    sleep 0.2
    waited=$((waited + 1))
  done
  warn "network: no carrier on $(if [ $# = 1 ]; then echo "$1"; else echo any NIC; fi) after 10 s: the agent starts anyway"
}
