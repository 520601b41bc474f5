#!/usr/bin/env bash
# Installs the Debian packages the agent's steps and the tests call, when any is missing.
# Idempotent and quick when everything is present. Needs root (apt-get); without root it
# only reports what is missing.
set -euo pipefail

# command -> package
declare -A NEEDED=(
  [lsblk]=util-linux [wipefs]=util-linux [losetup]=util-linux [flock]=util-linux [blkdiscard]=util-linux
  [blockdev]=util-linux [partx]=util-linux [blkid]=util-linux [fuser]=psmisc [sgdisk]=gdisk [sfdisk]=fdisk [parted]=parted [mkfs.ext4]=e2fsprogs
  [mkfs.vfat]=dosfstools [shred]=coreutils [qemu-img]=qemu-utils [hdparm]=hdparm
  [nvme]=nvme-cli [smartctl]=smartmontools [mdadm]=mdadm [efibootmgr]=efibootmgr
  [ip]=iproute2 [curl]=curl [xz]=xz-utils [zstd]=zstd [udevadm]=udev
  # rescue password hash (openssl passwd -5), log bundle checks, inventory memory banks
  [openssl]=openssl [tar]=tar [dmidecode]=dmidecode
  # image-writer tests: config drive ISO and files on a FAT ESP without mounting
  [genisoimage]=genisoimage [mcopy]=mtools
  # inspection: LLDP frames (tcpdump), USB devices (lshw)
  [tcpdump]=tcpdump [lshw]=lshw
  # burn-in steps: CPU/memory stress and disk/network load
  [stress-ng]=stress-ng [fio]=fio
  # the conductor's qemu power interface, tested against a real VM (qemu brings the iPXE ROMs;
  # socat carries the guest's guestfwd connections)
  [qemu-system-x86_64]=qemu-system-x86 [socat]=socat
  # better-sqlite3 (conductor node store) builds from source when no prebuilt binary can be fetched
  [python3]=python3 [make]=make [g++]=g++
)

missing=()
for cmd in "${!NEEDED[@]}"; do
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1; then
    missing+=("${NEEDED[$cmd]}")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages (install as root): ${packages[*]}" >&2
  exit 0
fi
echo "installing system packages: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# mdadm and udev would start services; in a container or CI there is nothing to start.
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
