#!/bin/bash
# Builds the root file system of the block-device and network KVM tests and the benchmarks: a
# busybox root with the static tools of firmware/guest-tools/, firmware/rootfs-init.sh as
# /sbin/init, the DHCP client script firmware/udhcpc-script.sh and, when the host has it,
# iperf3 with its shared libraries (for `vmm bench net`),
# turned into an ext4 image by firmware/make-ext4-image.sh. Boot it with root=/dev/vda (the
# stock kernel also needs firmware/build-rootfs-initramfs.sh's initramfs).
#
# Output: $CACHE/test-rootfs.ext4 (printed on stdout). Environment: VMM_CACHE_DIR (default
# ~/.cache/vmm), CC (default gcc). Rebuilt on every run; it takes a few seconds.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
OUT=$CACHE/test-rootfs.ext4
CC=${CC:-gcc}

die() { echo "build-test-rootfs: $*" >&2; exit 1; }

BUSYBOX=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'dynamically linked' &&
  die "$BUSYBOX is dynamically linked; install busybox-static"

mkdir -p "$CACHE"
root=$(mktemp -d "$CACHE/.test-rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc}
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
# The applet links busybox --install -s would make at boot, made here so the root can be
# mounted read-only too.
for applet in $("$BUSYBOX" --list-full); do
  [[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done
for src in "$SRC_DIR"/guest-tools/*.c; do
  "$CC" -static -O2 -Wall -Wextra -Werror -o "$root/bin/$(basename "$src" .c)" "$src" ||
    die "compiling $src failed (static glibc: apt-get install libc6-dev)"
done
rm -f "$root/sbin/init"
install -m 755 "$SRC_DIR/rootfs-init.sh" "$root/sbin/init"
echo vmm-test >"$root/etc/hostname"
mkdir -p "$root/etc/udhcpc"
install -m 755 "$SRC_DIR/udhcpc-script.sh" "$root/etc/udhcpc/default.script"
# iperf3 is dynamically linked: copy it with every library ldd names (and the loader) to the
# same paths. Optional: only the network benchmark needs it.
if iperf3=$(command -v iperf3); then
  for file in "$iperf3" $(ldd "$iperf3" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$root$(dirname "$file")"
    cp -L "$file" "$root$file"
  done
else
  echo "build-test-rootfs: no iperf3 on this host (apt-get install iperf3); the guest gets none" >&2
fi
# The kernel opens the console before devtmpfs is mounted when it mounts root= itself.
cp -a /dev/console /dev/null "$root/dev/" 2>/dev/null || true
# 32 MiB leaves room beyond busybox and the tools for what the tests write on the root.
"$SRC_DIR/make-ext4-image.sh" "$root" "$OUT" 32M
echo "$OUT"
