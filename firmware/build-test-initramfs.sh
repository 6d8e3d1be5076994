#!/bin/bash
# Builds the initramfs of the L2 test guest that the KVM tests boot with the stock kernel:
# busybox-static, the static tools in firmware/guest-tools/, and an /init that prints
# `VMMTEST: ...` markers on the console and then acts on the kernel parameter vmmtest=ACTION:
#   reboot (default) | poweroff | debugexit=V (write V to port 0xf4) | shell | sleep |
#   ticker | powerbutton (power off when the ACPI power button is pressed) | panic |
#   overwrite=DEV (random data over all of /dev/DEV, synced and read back; then wait for a line)
#   ktap (KTAP output with a failing case, then reboot)
#   9p (mount the virtio-9p shares "rw" and "ro", move data both ways, try to leave them)
# It carries the stock kernel's modules for the ACPI power button, evdev and pvpanic (built
# into the minimal kernel), and those of virtio-pci and 9p (loaded by the 9p action only), when
# firmware/fetch-debian-kernel.sh has unpacked them.
#
# Output: $CACHE/test-initramfs.cpio.gz (printed on stdout). Environment: VMM_CACHE_DIR
# (default ~/.cache/vmm), CC (default gcc). Rebuilt on every run; it takes about a second.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
OUT=$CACHE/test-initramfs.cpio.gz
CC=${CC:-gcc}

die() { echo "build-test-initramfs: $*" >&2; exit 1; }

BUSYBOX=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'dynamically linked' &&
  die "$BUSYBOX is dynamically linked; install busybox-static"
command -v cpio >/dev/null || die "cpio not found"

mkdir -p "$CACHE"
root=$(mktemp -d "$CACHE/.test-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,root}
cp "$BUSYBOX" "$root/bin/busybox"
for src in "$SRC_DIR"/guest-tools/*.c; do
  "$CC" -static -O2 -Wall -Wextra -Werror -o "$root/bin/$(basename "$src" .c)" "$src" ||
    die "compiling $src failed (static glibc: apt-get install libc6-dev)"
done
# Platform drivers a stock kernel has as modules; /init loads what is there, in this order.
mkdir -p "$root/lib/modules"
if [[ -f $CACHE/kernel/kernel.env ]]; then
  # shellcheck source=/dev/null
  modules_dir=$(. "$CACHE/kernel/kernel.env" && echo "$VMM_KERNEL_MODULES")
  for m in drivers/input/evdev.ko drivers/acpi/button.ko drivers/misc/pvpanic/pvpanic.ko \
           drivers/misc/pvpanic/pvpanic-mmio.ko; do
    if [[ -f $modules_dir/kernel/$m ]]; then
      cp "$modules_dir/kernel/$m" "$root/lib/modules/"
      basename "$m" >>"$root/lib/modules/load-order"
    fi
  done
  mkdir -p "$root/lib/modules/9p"
  for m in drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko \
           drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci_modern_dev.ko \
           drivers/virtio/virtio_pci.ko fs/netfs/netfs.ko fs/fscache/fscache.ko \
           net/9p/9pnet.ko net/9p/9pnet_virtio.ko fs/9p/9p.ko; do
    if [[ -f $modules_dir/kernel/$m ]]; then
      cp "$modules_dir/kernel/$m" "$root/lib/modules/9p/"
      basename "$m" >>"$root/lib/modules/9p/load-order"
    fi
  done
fi
# The kernel needs a console node before devtmpfs is mounted to give init its stdio.
cp -a /dev/console /dev/null "$root/dev/" 2>/dev/null || true
install -m 755 "$SRC_DIR/test-init.sh" "$root/init"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0 | gzip -9) >"$OUT.$$.tmp"
mv "$OUT.$$.tmp" "$OUT"
echo "$OUT"
