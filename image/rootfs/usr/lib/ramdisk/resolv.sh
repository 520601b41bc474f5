# /etc/resolv.conf from the DNS servers each configured NIC brought (busybox sh; sourced by
# network.sh and by udhcpc's hook). One file per NIC in $DNS_DIR, named <rank>-<nic>: 00 for
# a static ip=, else the NIC's route metric (the BOOTIF NIC's is the lowest), so the BOOTIF
# NIC's servers come first.
# Each NIC has its own udhcpc, and their hooks run at the same moment when two NICs get a
# lease together: every change is made under one lock (util-linux's flock: busybox-static
# has none), into a file of its own renamed over resolv.conf, so no update is lost and a
# reader never sees half a file. The paths can be overridden outside a ramdisk (test/image).
DNS_DIR=${DNS_DIR:-/run/ramdisk-dns}
RESOLV_CONF=${RESOLV_CONF:-/etc/resolv.conf}

# dns_set KEY: the NIC's resolv.conf lines (search, nameserver) on stdin.
dns_set() { _dns_update set "$1"; }
# dns_remove KEY: the NIC lost its lease.
dns_remove() { _dns_update remove "$1"; }

_dns_update() {
  local tmp="$DNS_DIR/.$2.$$" # ls leaves dot files out: never read half written
  mkdir -p "$DNS_DIR"
  [ "$1" = set ] && cat >"$tmp"
  (
    flock 9
    if [ "$1" = set ]; then mv -f "$tmp" "$DNS_DIR/$2"; else rm -f "$DNS_DIR/$2"; fi
    _dns_write
  ) 9>"$DNS_DIR.lock"
}

# glibc reads only the last search line and the first three nameservers: one search line
# with every NIC's domains, then the servers, each once, both in the NICs' order.
_dns_write() {
  local f out="$RESOLV_CONF.$$"
  for f in $(ls "$DNS_DIR" | sort -n); do cat "$DNS_DIR/$f"; done | awk '
    $1 == "search" { for (i = 2; i <= NF; i++) if (!seen["s " $i]++) search = search " " $i; next }
    $1 == "nameserver" && !seen["n " $2]++ { servers = servers "nameserver " $2 "\n" }
    END { if (search != "") print "search" search; printf "%s", servers }' >"$out"
  mv -f "$out" "$RESOLV_CONF"
}
