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
