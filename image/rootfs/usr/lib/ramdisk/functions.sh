# Shared by /init and the ramdisk's helpers (busybox sh). Messages reach every console
# (tty0 and ttyS0 alike), the kernel log (dmesg) and /var/log/ramdisk-init.log.
# The paths can be overridden to exercise these functions outside a ramdisk (test/image).
INIT_LOG=${INIT_LOG:-/var/log/ramdisk-init.log}
KMSG=${KMSG:-/dev/kmsg}
CONSOLES=${CONSOLES:-/proc/consoles}
CMDLINE=${CMDLINE:-/proc/cmdline}
RAMDISK_LIB=${RAMDISK_LIB:-/usr/lib/ramdisk}
# The space the image takes in the kernel's rootfs, in KiB (written by image/build.sh).
ROOTFS_KIB_FILE=${ROOTFS_KIB_FILE:-$RAMDISK_LIB/unpacked-kib}

_emit() {
  local line up _
  read -r up _ </proc/uptime
  line="[$up] ramdisk: $*"
  echo "$line" >>"$INIT_LOG"
  echo "<5>ramdisk: $*" >"$KMSG" 2>/dev/null
  # /proc/consoles lists the kernel's consoles: write to each, not only to /dev/console (the last one).
  if [ -r "$CONSOLES" ]; then
    while read -r name _; do echo "$line" >"/dev/$name" 2>/dev/null; done <"$CONSOLES"
  else
    echo "$line" >/dev/console 2>/dev/null
  fi
}
say() { _emit "$*"; }
warn() { _emit "WARNING: $*"; }
# A step of the boot: in the init log and, at info level, in the kernel log (dmesg shows when
# each step began; `quiet` keeps it off the consoles).
step() {
  local up _
  read -r up _ </proc/uptime
  echo "[$up] ramdisk: $*" >>"$INIT_LOG"
  echo "<6>ramdisk: $*" >"$KMSG" 2>/dev/null
}
bad_param() { _emit "BAD KERNEL PARAMETER $1: $2"; }

# The kernel unpacks the initramfs into its rootfs, a tmpfs capped at half the memory it
# manages. When the image does not fit it logs "Initramfs unpacking failed: write error" and
# runs /init with what it unpacked: the archive holds /init, busybox, these scripts and /etc
# first and node last (image/build.sh), so this can still say why nothing else will work.
# busybox's dmesg: util-linux's may be among what is missing.
kernel_log() { busybox dmesg 2>/dev/null; }
unpack_failure() {
  local failed unpacked initrd total need
  failed=$(kernel_log | grep -m 1 'Initramfs unpacking failed') || return 1
  failed=${failed#*\] }
  read -r unpacked _ <"$ROOTFS_KIB_FILE" 2>/dev/null || unpacked=0
  initrd=$(kernel_log | sed -n 's/.*Freeing initrd memory: \([0-9]*\)K.*/\1/p' | head -n 1)
  total=$(awk '/MemTotal/ {printf "%d", $2 / 1024}' /proc/meminfo 2>/dev/null)
  # Half the memory must hold the unpacked image while the compressed one is still loaded;
  # the kernel keeps ~64 MiB for itself.
  need=$(((2 * unpacked + ${initrd:-0}) / 1024 + 64))
  echo "the kernel could not unpack this image ($failed): it unpacks to $((unpacked / 1024)) MiB, which must fit in half of the RAM; give this machine at least $need MiB of RAM (the kernel has ${total:-?} MiB)"
}

is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; esac; }
is_number() {
  case "$1" in '' | . | *.*.* | *[!0-9.]*) return 1 ;; esac
}
# An NTP server as IPA's _validate_ntp_server takes it (IPA LP#2160050): an IP address or a
# host name of plain characters, at most 253, so it cannot add options to chronyd's directive.
is_ntp_server() {
  case "$1" in '' | -* | *[!A-Za-z0-9.:_-]*) return 1 ;; esac
  [ "${#1}" -le 253 ]
}

# Kernel parameters /init acts on. The agent reads the rest (ipa-api-url, ...) itself.
parse_cmdline() {
  DISK_WAIT_ATTEMPTS=10
  DISK_WAIT_DELAY=3
  BOOTIF_MAC=
  BOOTIF_GIVEN=
  IP_PARAMS=
  NTP_SERVER=
  CONSOLE_SHELL=
  IR_PUB_ID=
  local word key value mac
  for word in $(cat "$CMDLINE"); do
    [ "$word" = -- ] && break
    key=${word%%=*}
    value=${word#*=}
    [ "$key" = "$word" ] && value=
    value=${value//\"/}
    case "$key" in
      BOOTIF)
        # Given at all, even malformed, it marks a network boot (config-drive.sh).
        BOOTIF_GIVEN=1
        # PXE's form 01-52-54-00-12-34-56 (hardware type 1 = Ethernet) or a plain MAC.
        mac=$(echo "$value" | tr 'A-F-' 'a-f:')
        case "$mac" in 01:??:??:??:??:??:??) mac=${mac#01:} ;; esac
        if echo "$mac" | grep -qE '^([0-9a-f]{2}:){5}[0-9a-f]{2}$'; then
          BOOTIF_MAC=$mac
        else
          bad_param "BOOTIF=$value" "not a MAC address (expected 01-52-54-00-12-34-56); no NIC is preferred"
        fi
        ;;
      ip) IP_PARAMS="$IP_PARAMS $value" ;;
      # The publisher ID Ironic gave its virtual media ISO (config-drive.sh).
      ir_pub_id) IR_PUB_ID=$value ;;
      ipa-disk-wait-attempts)
        if is_uint "$value"; then DISK_WAIT_ATTEMPTS=$value; else
          bad_param "$word" "not a whole number; using $DISK_WAIT_ATTEMPTS"
        fi
        ;;
      ipa-disk-wait-delay)
        if is_number "$value"; then DISK_WAIT_DELAY=$value; else
          bad_param "$word" "not a number of seconds; using $DISK_WAIT_DELAY"
        fi
        ;;
      ipa-ntp-server)
        if [ -z "$value" ]; then bad_param "$word" "empty; the clock is not set"
        elif is_ntp_server "$value"; then NTP_SERVER=$value
        else bad_param "$word" "not a host name or IP address; the clock is not set"; fi
        ;;
      ramdisk-agent.shell)
        case "$value" in 1 | true | yes | on | '') CONSOLE_SHELL=1 ;; 0 | false | no | off) ;; *)
          bad_param "$word" "expected 1 or 0; no console shell" ;;
        esac
        ;;
    esac
  done
}

# md personalities: /proc/mdstat exists only once md_mod is in, and the software-raid manager
# creates and stops arrays. Nothing is assembled here (64-md-raid-assembly.rules is left
# out): the agent decides what to do with arrays found on the disks.
load_md_modules() {
  modprobe -a -q md_mod raid0 raid1 raid10 raid456 || warn "md modules did not load"
}

# IPMI, as IPA's _load_ipmi_modules (ipmi_msghandler, ipmi_devintf, ipmi_si): the inventory's
# bmc_address and bmc_mac come from ipmitool through /dev/ipmi0, which ipmi_devintf makes.
# ipmi_devintf has no modalias: udev loads ipmi_si for a BMC that SMBIOS, ACPI or PCI
# describes, and ipmi_devintf only comes with it as ipmi_msghandler's soft dependency (when
# whatever loads it reads modules.softdep; busybox's modprobe does not). Loading all three by
# name does not depend on either. Without a BMC ipmi_si does not load: no error, as in IPA.
load_ipmi_modules() {
  modprobe -a -q ipmi_msghandler ipmi_devintf ipmi_si
  if [ -e "${IPMI_DEVICE:-/dev/ipmi0}" ]; then step "ipmi: ${IPMI_DEVICE:-/dev/ipmi0}"; else step "ipmi: no BMC device"; fi
}

# IPA's wait_for_disks: up to ipa-disk-wait-attempts looks, ipa-disk-wait-delay seconds
# apart, for a disk the agent could install on (a whole disk of at least 4 GiB: IPA's
# smallest root device without hints). Slow RAID controllers bring their disks up late.
has_install_disk() {
  local dev size
  for dev in /sys/block/*; do
    case "${dev##*/}" in loop* | ram* | zram* | sr* | fd* | md* | dm-* | nbd*) continue ;; esac
    size=$(cat "$dev/size" 2>/dev/null) || continue
    [ "${size:-0}" -ge 8388608 ] && return 0
  done
  return 1
}
wait_for_disks() {
  local attempt=1
  [ "$DISK_WAIT_ATTEMPTS" -eq 0 ] && return 0
  while [ "$attempt" -le "$DISK_WAIT_ATTEMPTS" ]; do
    if has_install_disk; then
      step "disks: $(ls /sys/block | tr '\n' ' ')"
      return 0
    fi
    say "Still waiting for the root device to appear, attempt $attempt of $DISK_WAIT_ATTEMPTS"
    [ "$attempt" -lt "$DISK_WAIT_ATTEMPTS" ] && sleep "$DISK_WAIT_DELAY"
    attempt=$((attempt + 1))
  done
  warn "The root device was not detected (no disk of 4 GiB or more): the agent starts anyway"
}

sync_clock() {
  [ -n "$NTP_SERVER" ] || return 0
  if ! command -v chronyd >/dev/null; then
    warn "ipa-ntp-server=$NTP_SERVER given but this image has no chronyd: clock not set"
    return 0
  fi
  if timeout 20 chronyd -q -t 15 "server $NTP_SERVER iburst" >>"$INIT_LOG" 2>&1; then
    say "clock set from $NTP_SERVER: $(date -u)"
  else
    warn "could not set the clock from ipa-ntp-server=$NTP_SERVER (no answer in 15 s)"
  fi
}

. "$RAMDISK_LIB/network.sh"
