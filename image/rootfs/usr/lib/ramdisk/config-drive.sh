# DHCP-less ("layer 3") boots (busybox sh, sourced by network.sh): Ironic writes a node's
# network_data on its virtual media ISO, labelled config-2, as openstack/latest/network_data.json
# (Ironic's doc/source/admin/dhcp-less.rst). Before any DHCP, the NICs that file names are
# configured from it (network-data.mjs says how); the others keep what network.sh gives them.
# Which device is read, as IPA's ramdisk decides (ironic-python-agent-builder's
# ironic-python-agent-resolve-configdrive.sh before glean, and IPA's _check_vmedia_device, as
# the agent's src/agent/config/vmedia/find-media.ts):
#  - labelled config-2 in any case (a vfat one says CONFIG-2), found by blkid;
#  - virtual media: a ROM (a BMC's virtual CD) or a USB disk under 4 GiB, never a partition,
#    judged over `lsblk -s`. A config drive that a deployment left on a local disk carries the
#    same label and must not configure the ramdisk;
#  - with ir_pub_id= on the command line (Ironic sets it to the ISO's publisher ID), that ID;
#  - with BOOTIF= and no ir_pub_id= (a network boot, or an Ironic that sets none), none: that is
#    decided from the command line before any device is probed, as ironic-python-agent-builder's
#    script exits before its lsblk then ("Non-vmedia based deploy detected"), so a PXE boot runs
#    no blkid over every device. A BOOTIF= that is no MAC counts too: the script only greps for
#    BOOTIF. (Without either parameter the script reads only a device with an empty publisher ID;
#    this one reads any virtual media config-2 device, as the agent's find-media.ts does.)
# The device is mounted read-only in a folder of its own and unmounted before anything is
# configured. The paths and node can be overridden to exercise this outside a ramdisk (test/image).
CONFIG_DRIVE_MNT=${CONFIG_DRIVE_MNT:-/run/ramdisk-config-drive}
NODE=${NODE:-/usr/bin/node}

# "<device> <type>" for each device labelled config-2 (any case), from blkid's export blocks.
config_drive_candidates() {
  blkid -c /dev/null -o export 2>/dev/null | awk '
    function flush() { if (dev != "" && toupper(label) == "CONFIG-2") print dev, type; dev = label = type = "" }
    /^DEVNAME=/ { flush(); dev = substr($0, 9) }
    /^LABEL=/ { label = substr($0, 7) }
    /^TYPE=/ { type = substr($0, 6) }
    END { flush() }'
}

# IPA's _check_vmedia_device over `lsblk -n -s -P -b -oKNAME,TRAN,TYPE,SIZE` (the device, then
# what it sits on): "yes", or why not.
vmedia_verdict() {
  lsblk -n -s -P -b -oKNAME,TRAN,TYPE,SIZE "$1" 2>&1 | awk '
    done { next }
    {
      line = $0; kname = tran = type = size = ""
      while (match(line, /[A-Z]+="[^"]*"/)) {
        pair = substr(line, RSTART, RLENGTH); line = substr(line, RSTART + RLENGTH)
        key = substr(pair, 1, index(pair, "=") - 1); value = substr(pair, length(key) + 3)
        value = substr(value, 1, length(value) - 1)
        if (key == "KNAME") kname = value; else if (key == "TRAN") tran = value
        else if (key == "TYPE") type = value; else if (key == "SIZE") size = value
      }
      if (kname == "") { why = why " lsblk: " $0; next }
      if (type == "part") { print kname " is a partition"; done = 1; next }
      if (type == "rom" || (type == "disk" && tran == "usb" && size != "" && size + 0 < 4294967296)) {
        print "yes"; done = 1; next
      }
      why = why " " kname ": type " type (tran != "" ? ", transport " tran : "") (size != "" ? ", " size " bytes" : "") ";"
    }
    END { if (!done) print "neither a CD nor a USB disk under 4 GiB:" why }'
}

# The config-2 device to read, or nothing (and why on the console).
find_config_drive() {
  local dev type verdict pub
  config_drive_candidates | while read -r dev type; do
    verdict=$(vmedia_verdict "$dev")
    if [ "$verdict" != yes ]; then
      say "network: config-2 on $dev is not virtual media ($verdict): not read"
      continue
    fi
    if [ -n "$IR_PUB_ID" ]; then
      pub=$(blkid -p -c /dev/null -o value -s PUBLISHER_ID "$dev" 2>/dev/null | sed 's/\\//g')
      if [ "$(echo "$pub" | tr 'A-Z' 'a-z')" != "$(echo "$IR_PUB_ID" | tr 'A-Z' 'a-z')" ]; then
        say "network: config-2 on $dev has publisher ID '$pub', not ir_pub_id=$IR_PUB_ID: not read"
        continue
      fi
    fi
    echo "$dev $type"
    break
  done
}

# Configures the NICs the config drive's network_data.json names. Sets ND_NICS (named by the
# file: no DHCP of their own), ND_DHCP (ipv4_dhcp), ND_WAIT (static: their carrier is awaited)
# and adds the file's DNS servers to resolv.conf.
configure_from_config_drive() {
  local found dev type file plan status=0 verb rest nic nics= dns=
  ND_NICS=
  ND_DHCP=
  ND_WAIT=
  # A network boot: the command line alone says so, and nothing is probed (see the top).
  if [ -n "$BOOTIF_GIVEN" ] && [ -z "$IR_PUB_ID" ]; then
    say "network: BOOTIF= without ir_pub_id= is a network boot: no config drive is looked for"
    return 0
  fi
  found=$(find_config_drive)
  [ -n "$found" ] || return 0
  read -r dev type <<EOF
$found
EOF
  mkdir -p "$CONFIG_DRIVE_MNT"
  # -t: busybox's mount tries only the types /proc/filesystems lists, and isofs is a module
  # nothing loaded yet; a named type makes the kernel load it.
  if ! mount ${type:+-t "$type"} -o ro "$dev" "$CONFIG_DRIVE_MNT"; then
    warn "network: could not mount the config drive $dev ($type): DHCP as without it"
    return 0
  fi
  file=$CONFIG_DRIVE_MNT/openstack/latest/network_data.json
  if [ -f "$file" ]; then
    for nic in $(nic_list); do nics="$nics $nic=$(nic_mac "$nic")"; done
    plan=$("$NODE" "$RAMDISK_LIB/network-data.mjs" "$file" $nics 2>"$CONFIG_DRIVE_MNT.err") || status=$?
  else
    status=none
  fi
  umount "$CONFIG_DRIVE_MNT" || warn "network: could not unmount the config drive $dev from $CONFIG_DRIVE_MNT"
  case "$status" in
    0) ;;
    none) say "network: the config drive $dev holds no openstack/latest/network_data.json"; return 0 ;;
    *)
      warn "network: $dev openstack/latest/network_data.json is not usable ($(head -c 300 "$CONFIG_DRIVE_MNT.err")): DHCP as without it"
      return 0
      ;;
  esac
  say "network: configuring from network_data.json on the config drive $dev"
  # network-data.mjs checked every word of each ip line: they are split, never evaluated.
  while read -r verb rest; do
    case "$verb" in
      nic) ND_NICS="$ND_NICS $rest" ;;
      wait) case " $ND_WAIT " in *" $rest "*) ;; *) ND_WAIT="$ND_WAIT $rest" ;; esac ;;
      module) modprobe -q "$rest" || warn "network: could not load $rest (network_data.json asks for it)" ;;
      ip) ip $rest || warn "network: network_data.json: 'ip $rest' failed" ;;
      dhcp) ND_DHCP="$ND_DHCP $rest" ;;
      dns) dns="${dns}nameserver $rest
" ;;
      say) say "network: $rest" ;;
      warn) warn "network: $rest" ;;
    esac
  done <<EOF
$plan
EOF
  [ -z "$dns" ] || printf %s "$dns" | dns_set "00-network_data"
}
