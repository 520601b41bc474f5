# Sourced by test/image/network-stub.ts after functions.sh: shell functions standing in for
# the commands the network set-up runs (busybox sh runs its applets before anything on PATH,
# so a stub has to be a function). $T holds the machine's state; $SYS_NET its sysfs.
ip() {
  echo "$*" >>"$T/ip.log"
  case "$*" in
    "-4 -o addr show dev "*) [ -f "$T/leased.$6" ] && echo "2: $6    inet $(cat "$T/lease.$6") scope global $6" ;;
    *"addr show scope global"*)
      for f in "$T"/leased.*; do
        [ -f "$f" ] && n=${f##*.} && echo "2: $n    inet $(cat "$T/lease.$n") scope global $n"
      done
      ;;
  esac
  return 0
}
# Records how it was started; the clock below hands out the lease (udhcpc keeps asking).
udhcpc() {
  local a=" $* " nic
  nic=${a#* -i }
  nic=${nic%% *}
  echo "METRIC=$METRIC $*" >"$T/udhcpc.$nic"
}
hostname() { echo "$*" >"$T/hostname"; }
# The clock: one call is one tick (0.2 s in network.sh). After it, the NICs whose time has
# come get their carrier, and a NIC with a udhcpc, a carrier and a DHCP server its lease.
TICK=0
sleep() {
  wait # the udhcpc stubs run in the background: let them record their start
  TICK=$((TICK + 1))
  local nic
  for nic in $(ls "$SYS_NET"); do
    [ "$(cat "$T/carrier-at.$nic" 2>/dev/null)" = "$TICK" ] && echo 1 >"$SYS_NET/$nic/carrier"
    if [ -f "$T/udhcpc.$nic" ] && [ -f "$T/lease.$nic" ] && [ ! -f "$T/leased.$nic" ] &&
      [ "$(cat "$SYS_NET/$nic/carrier")" = 1 ]; then
      echo "$TICK" >"$T/leased.$nic"
    fi
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
