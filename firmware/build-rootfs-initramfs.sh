#!/bin/bash
# Builds an initramfs that lets a stock distribution kernel (virtio and ext4 as modules) boot
# with its root file system on a virtio disk: busybox-static, the kernel's own modules for
# virtio-pci, virtio-mmio, virtio-blk, virtio-console, virtio-net, virtio-vsock and ext4 with
# everything they depend on, and an /init
# (firmware/rootfs-initramfs-init.sh) that loads them, mounts root= and switch_root's to its init.
#
#   vmm run --kernel bzImage --initrd rootfs-initramfs.cpio.gz --disk rootfs.ext4 \
#           --cmdline "console=ttyS0 root=/dev/vda"
#
# Output: $CACHE/rootfs-initramfs.cpio.gz (printed on stdout). Environment: VMM_CACHE_DIR
# (default ~/.cache/vmm); KERNEL_MODULES (default: the stock kernel that
# firmware/fetch-debian-kernel.sh unpacks); EXTRA_MODULES (more module names, space-separated).
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
OUT=$CACHE/rootfs-initramfs.cpio.gz
# What root on a virtio disk needs. crc32c is ext4's and jbd2's soft dependency (through the
# crypto API, so `depends` does not name it); the generic one works on every CPU. virtio_net
# brings net_failover and failover along; the network tests and benchmark need it.
# vmw_vsock_virtio_transport brings vsock and vmw_vsock_virtio_transport_common: AF_VSOCK for
# the vsock tests.
MODULES=(crc32c_generic virtio_pci virtio_mmio virtio_blk virtio_console virtio_net
         vmw_vsock_virtio_transport ext4)
read -r -a extra <<<"${EXTRA_MODULES:-}"
MODULES+=("${extra[@]}")

die() { echo "build-rootfs-initramfs: $*" >&2; exit 1; }

BUSYBOX=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'dynamically linked' &&
  die "$BUSYBOX is dynamically linked; install busybox-static"
command -v cpio >/dev/null || die "cpio not found"
command -v modinfo >/dev/null || die "modinfo not found (apt-get install kmod)"

if [[ -z ${KERNEL_MODULES:-} ]]; then
  "$SRC_DIR/fetch-debian-kernel.sh" >/dev/null
  # shellcheck source=/dev/null
  KERNEL_MODULES=$(. "$CACHE/kernel/kernel.env" && echo "$VMM_KERNEL_MODULES")
fi
[[ -d $KERNEL_MODULES/kernel ]] || die "$KERNEL_MODULES is not a kernel module tree"

# Module name -> file. Names use '_' where file names may use '-' (crc32c-intel.ko).
declare -A module_file
while IFS= read -r -d '' ko; do
  name=$(basename "$ko" .ko)
  module_file[${name//-/_}]=$ko
done < <(find "$KERNEL_MODULES/kernel" -name '*.ko' -print0)
(( ${#module_file[@]} > 0 )) || die "no .ko files under $KERNEL_MODULES (compressed modules?)"

# Depth-first over `depends`, so every module comes after what it needs.
declare -A visited
order=()
visit() {
  local name=${1//-/_}
  [[ -n ${visited[$name]:-} ]] && return 0
  visited[$name]=1
  local file=${module_file[$name]:-}
  if [[ -z $file ]]; then
    # Built into this kernel: nothing to load.
    grep -q "/${name}.ko\$\|/${name//_/-}.ko\$" "$KERNEL_MODULES/modules.builtin" 2>/dev/null && return 0
    die "module $name not found in $KERNEL_MODULES"
  fi
  local deps dep
  deps=$(modinfo -F depends "$file")
  for dep in ${deps//,/ }; do visit "$dep"; done
  order+=("$name")
}
for m in "${MODULES[@]}"; do visit "$m"; done

mkdir -p "$CACHE"
root=$(mktemp -d "$CACHE/.rootfs-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,newroot,lib/modules}
cp "$BUSYBOX" "$root/bin/busybox"
for name in "${order[@]}"; do
  cp "${module_file[$name]}" "$root/lib/modules/$name.ko"
  echo "$name.ko" >>"$root/lib/modules/load-order"
done
# The kernel needs a console node before devtmpfs is mounted to give init its stdio.
cp -a /dev/console /dev/null "$root/dev/" 2>/dev/null || true
install -m 755 "$SRC_DIR/rootfs-initramfs-init.sh" "$root/init"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0 | gzip -9) >"$OUT.$$.tmp"
mv "$OUT.$$.tmp" "$OUT"
echo "build-rootfs-initramfs: modules: ${order[*]}" >&2
echo "$OUT"
