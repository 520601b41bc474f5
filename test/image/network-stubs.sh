# Sourced by test/image/network-stub.ts after functions.sh: shell functions standing in for
# the commands the network set-up and the rescue hand-over run (busybox sh runs its applets
# before anything on PATH, so a stub has to be a function). $T holds the machine's state,
# $SYS_NET its sysfs, $RUN_DIR its /run.
ip() {
  local f a
  echo "$*" >>"$T/ip.log"
  case "$*" in
    "-4 -o addr show dev "*)
      a=$(cat "$T/addr.$6" 2>/dev/null)
      [ -n "$a" ] && echo "2: $6    inet $a scope global $6"
      ;;
    *"addr show scope global"*)
      for f in "$T"/addr.*; do
        case $f in *.new) continue ;; esac
        a=$(cat "$f" 2>/dev/null)
        [ -n "$a" ] && echo "2: ${f#"$T/addr."}    inet $a scope global ${f#"$T/addr."}"
      done
      ;;
  esac
  return 0
}
# The address the DHCP server on NIC's link gives now: $T/offers.<nic> holds "<tick> <address>"
# lines in order ('-': no server from that tick on).
current_offer() {
  [ -f "$T/offers.$1" ] && awk -v t="$TICK" '$1 <= t { a = $2 } END { if (a != "" && a != "-") print a }' "$T/offers.$1"
}
# udhcpc. As a daemon it records how it was started (udhcpc.<nic>: its arguments; starts.<nic>:
# the tick of each start), runs its hook's deconfig (the NIC's address goes) and writes its
# pidfile; the clock below hands out the lease (udhcpc keeps asking), and a bound one keeps it
# (a real one asks again only at T1, hours later). With -q (a probe, in the foreground) it gets
# the server's current offer at once and hands it to its script as udhcpc does, or fails.
udhcpc() {
  local a=" $* " nic pidfile script offer
  nic=${a#* -i }
  nic=${nic%% *}
  case "$a" in
    *" -q "*)
      echo "$nic $TICK" >>"$T/dhcp-probes.log"
      [ "$(cat "$SYS_NET/$nic/carrier")" = 1 ] || return 1
      offer=$(current_offer "$nic")
      [ -n "$offer" ] || return 1
      script=${a#* -s }
      script=${script%% *}
      (export interface="$nic" ip="${offer%/*}" mask="${offer#*/}" && sh "$script" bound)
      return 0
      ;;
  esac
  pidfile=${a#* -p }
  pidfile=${pidfile%% *}
  echo "METRIC=$METRIC $*" >"$T/udhcpc.$nic"
  echo "$TICK" >>"$T/starts.$nic"
  rm -f "$T/addr.$nic" "$T/bound.$nic"
  : >"$T/running.$nic"
  echo "$nic $(wc -l <"$T/starts.$nic")" | cksum | cut -d' ' -f1 >"$pidfile"
}
# Ends the udhcpc whose pidfile holds the pid (as a real one on SIGTERM without -R: its
# address stays); kill.log: "<nic> <tick>".
kill() {
  local pid f nic
  for pid; do :; done
  for f in "$RUN_DIR"/udhcpc.*.pid; do
    [ "$(cat "$f" 2>/dev/null)" = "$pid" ] || continue
    nic=${f#"$RUN_DIR/udhcpc."}
    nic=${nic%.pid}
    echo "$nic $TICK" >>"$T/kill.log"
    rm -f "$f" "$T/running.$nic"
    return 0
  done
  echo "kill $*: no udhcpc has this pid" >>"$T/errors"
  return 1
}
hostname() { echo "$*" >"$T/hostname"; }
# The clock: a tick is 0.2 s (network.sh's step); `sleep S` takes S / 0.2 ticks. At each tick
# the NICs whose time has come get their carrier, and a NIC with a udhcpc that holds no lease,
# a carrier and a DHCP server gets the server's offer (leases.log: "<nic> <tick> <address>").
TICK=0
tick_machine() {
  local dev nic at carrier offer
  for dev in "$SYS_NET"/*; do
    nic=${dev##*/}
    if [ -f "$T/carrier-at.$nic" ]; then
      read -r at <"$T/carrier-at.$nic"
      [ "$at" = "$TICK" ] && echo 1 >"$dev/carrier"
    fi
    [ -f "$T/running.$nic" ] && [ ! -f "$T/bound.$nic" ] || continue
    read -r carrier <"$dev/carrier"
    [ "$carrier" = 1 ] || continue
    offer=$(current_offer "$nic")
    [ -n "$offer" ] || continue
    # Written whole, then moved: `ip addr show` run meanwhile sees the old state or the new,
    # never an empty file (as the kernel never shows half an address).
    echo "$offer" >"$T/addr.$nic.new" && mv "$T/addr.$nic.new" "$T/addr.$nic"
    : >"$T/bound.$nic"
    echo "$nic $TICK $offer" >>"$T/leases.log"
  done
}
sleep() {
  local n
  wait # the udhcpc stubs run in the background: let them record their start
  n=$(awk -v s="$1" 'BEGIN { printf "%d", s * 5 + 0.5 }')
  while [ "$n" -gt 0 ]; do
    TICK=$((TICK + 1))
    tick_machine
    n=$((n - 1))
  done
}
# Block devices for the config drive search (config-drive.sh): $T/media/<name>/ holds what
# blkid (blkid: its export block; publisher: its ISO publisher ID) and lsblk -s (lsblk) say
# of /dev/<name>, and root/, what mounting it shows. Nothing here reads a device of the host.
# Each probe is recorded in probes.log, so a test can tell that a boot probed no device.
blkid() {
  local m
  echo "blkid $*" >>"$T/probes.log"
  case "$*" in
    "-c /dev/null -o export")
      for m in "$T"/media/*; do [ -f "$m/blkid" ] && cat "$m/blkid" && echo; done
      ;;
    "-p -c /dev/null -o value -s PUBLISHER_ID /dev/"*) cat "$T/media/${8#/dev/}/publisher" 2>/dev/null ;;
    *) echo "unexpected blkid $*" >>"$T/errors"; return 2 ;;
  esac
  return 0
}
lsblk() {
  local dev
  echo "lsblk $*" >>"$T/probes.log"
  for dev; do :; done
  cat "$T/media/${dev#/dev/}/lsblk"
}
mount() {
  local dev dir
  echo "mount $*" >>"$T/mount.log"
  for dir; do :; done
  dev=$(echo "$*" | awk '{print $(NF - 1)}')
  [ -d "$T/media/${dev#/dev/}/root" ] || return 32
  cp -R "$T/media/${dev#/dev/}/root/." "$dir/"
}
umount() {
  echo "umount $*" >>"$T/mount.log"
  rm -rf "$1" && mkdir "$1"
}
modprobe() { echo "$*" >>"$T/modprobe.log"; }
