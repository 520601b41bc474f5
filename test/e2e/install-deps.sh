#!/usr/bin/env bash
# What `make e2e` needs besides `make image`: QEMU for x86-64 (with its iPXE ROMs), OVMF, grub's files, qemu-img,
# socat (QEMU's guestfwd runs it per guest connection), genisoimage (the DHCP-less scenario's config-2 CD), dropbear's
# client dbclient (the rescue scenario's SSH login; the image's build installs its package for the ramdisk's dropbear)
# and the stock Ironic of test/interop.
# Quick when everything is there; without root it only reports what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

declare -A NEEDED=([qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils [socat]=socat [genisoimage]=genisoimage [dbclient]=dropbear-bin)
missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
# The virtio NIC's PXE ROM (package ipxe-qemu, a dependency of qemu-system-x86).
[ -e /usr/share/qemu/efi-virtio.rom ] || [ -e /usr/lib/ipxe/qemu/efi-virtio.rom ] || missing+=(ipxe-qemu)
# UEFI machines (software RAID in UEFI mode): OVMF's code and variable-store template.
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || missing+=(ovmf)
# The software RAID and partition image scenarios' grub image (test/e2e/harness/grub-image.ts) is built from
# these packages' files: grub's tools and BIOS modules only (not grub-pc, which would install
# grub on this machine's own disk), and gettext for grub-mkconfig.
[ -e /usr/lib/grub/i386-pc/boot.img ] || missing+=(grub-pc-bin)
command -v grub-mkconfig >/dev/null 2>&1 || missing+=(grub2-common)
command -v gettext >/dev/null 2>&1 || missing+=(gettext-base)

if [ "$(id -u)" -ne 0 ]; then
  [ ${#missing[@]} -eq 0 ] || echo "missing system packages (install as root): ${missing[*]}" >&2
  exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi
test/interop/ironic/install.sh
