#!/usr/bin/env bash
# Installs what `make image` needs on a Debian 12 build host: the tools copied into the image
# (with their libraries), busybox-static for everything else, and the packers. The kernel is
# not installed here: build.sh fetches its .deb with `apt-get download` and unpacks it.
# Idempotent: a host that has everything does nothing (no apt-get update).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
mapfile -t packages < <(grep -v '^\s*#' "$here/packages.list" | awk 'NF{print $1}' | sort -u)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "image build: missing Debian packages (install as root): ${missing[*]}" >&2
  exit 1
fi
echo "image build: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt run on the machine (a parallel build) holds the lock for a while: wait for it.
apt=(apt-get -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends)
apt-get -o DPkg::Lock::Timeout=600 update -qq
# --no-install-recommends keeps mdadm from pulling a mail server. mdadm's postinst may warn
# "MD subsystem is not loaded" on a build host: harmless.
"${apt[@]}" install "${missing[@]}" >/dev/null
