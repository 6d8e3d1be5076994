#!/bin/bash
# Builds a Debian 12 (bookworm) guest image with systemd, as a distribution user would boot it
# under vmm: mmdebstrap from the Debian registry, systemd as init with udev, dbus and logind (so
# the ACPI power button shuts it down), a serial getty on ttyS0 that logs root in without a
# password (for tests and headless use), DHCP on the NIC when it boots as a VM (systemd-networkd),
# root on /dev/vda, and the stock kernel's modules
# (firmware/fetch-debian-kernel.sh) so udev loads the drivers it finds (button, evdev, pvpanic,
# virtio-vsock).
#
#   vmm run --kernel ~/.cache/vmm/kernel/bzImage --initrd ~/.cache/vmm/rootfs-initramfs.cpio.gz \
#           --disk debian-12.ext4            # stock kernel: virtio and ext4 are modules
#   vmm run --kernel ~/.cache/vmm/minimal-kernel/bzImage --disk debian-12.ext4
#
# Output: $CACHE/debian-12.ext4 (printed on stdout), a pristine image: copy it before booting
# it writable. Cached by its inputs (this script and the kernel's modules); rebuilt when they
# change (about 3 minutes). Environment: VMM_CACHE_DIR (default ~/.cache/vmm), DEBIAN_MIRROR
# (default http://deb.debian.org/debian). Needs root (mmdebstrap's root mode) and 1 GiB of disk.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
OUT=$CACHE/debian-12.ext4
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=systemd,systemd-sysv,udev,dbus,kmod,iproute2,procps,dmidecode

die() { echo "build-debian-image: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (mmdebstrap needs it to make device nodes and owners)"
command -v mmdebstrap >/dev/null || die "mmdebstrap not found (apt-get install mmdebstrap)"

# One build at a time: the VM tests and the container tests may both ask for the image.
mkdir -p "$CACHE"
exec 9>"$CACHE/.debian-12.lock"
flock 9

"$SRC_DIR/fetch-debian-kernel.sh" >/dev/null
# shellcheck source=/dev/null
KERNEL_MODULES=$(. "$CACHE/kernel/kernel.env" && echo "$VMM_KERNEL_MODULES")
[[ -d $KERNEL_MODULES/kernel ]] || die "$KERNEL_MODULES is not a kernel module tree"

inputs=$( (sha256sum "${BASH_SOURCE[0]}" "$SRC_DIR/make-ext4-image.sh"; echo "$PACKAGES $MIRROR";
           basename "$KERNEL_MODULES") | sha256sum | cut -d' ' -f1)
if [[ -f $OUT && -f $OUT.inputs && $(cat "$OUT.inputs") == "$inputs" ]]; then
  echo "$OUT"
  exit 0
fi

mkdir -p "$CACHE"
root=$(mktemp -d "$CACHE/.debian-root.XXXXXX")
trap 'rm -rf "$root"' EXIT

echo "build-debian-image: mmdebstrap bookworm ($PACKAGES)" >&2
mmdebstrap --quiet --variant=minbase --include="$PACKAGES" bookworm "$root" \
  "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" >&2 ||
  die "mmdebstrap failed"

echo vmm-debian >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vmm-debian\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
# root without a password, logged in on the serial console.
chroot "$root" passwd -d root >/dev/null
mkdir -p "$root/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$root/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %I $TERM
EOF
# In a VM, systemd-networkd asks for an address by DHCP on the NIC (the daemon's bridge answers,
# as LXD's images do on lxdbr0). A system container's eth0 is set up by its manager from
# outside, so networkd stays off there.
mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/system/multi-user.target.wants"
printf '[Match]\nDriver=virtio_net\n\n[Network]\nDHCP=ipv4\n' \
  >"$root/etc/systemd/network/80-vmm-dhcp.network"
for unit in systemd-networkd.service systemd-networkd.socket; do
  mkdir -p "$root/etc/systemd/system/$unit.d"
  printf '[Unit]\nConditionVirtualization=vm\n' >"$root/etc/systemd/system/$unit.d/vmm-vm-only.conf"
done
ln -sf /lib/systemd/system/systemd-networkd.service \
  "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# The first boot makes the machine ID; an empty file says "not yet" without a first-boot
# wizard on the console.
: >"$root/etc/machine-id"
# The stock kernel's modules that a vmm guest can use, for udev (the whole tree is 400 MB, most
# of it drivers for hardware a VM never has). kernel/virt holds irqbypass, which kvm needs: udev
# loads kvm when the vCPUs advertise SVM or VMX.
kver=$(basename "$KERNEL_MODULES")
dest=$root/lib/modules/$kver
mkdir -p "$dest"
cp "$KERNEL_MODULES"/modules.builtin* "$KERNEL_MODULES"/modules.order "$dest/"
(cd "$KERNEL_MODULES" &&
  find kernel/drivers/acpi kernel/drivers/input kernel/drivers/misc kernel/drivers/virtio \
    kernel/drivers/block kernel/drivers/char kernel/fs kernel/lib \
    kernel/crypto kernel/arch kernel/virt kernel/net/core kernel/net/vmw_vsock \
    kernel/drivers/net/virtio_net.ko \
    kernel/drivers/net/net_failover.ko -name '*.ko' -print0 |
  cpio --null -pdm --quiet "$dest")
chroot "$root" depmod "$kver"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

"$SRC_DIR/make-ext4-image.sh" "$root" "$OUT.tmp.img" >&2
mv "$OUT.tmp.img" "$OUT"
echo "$inputs" >"$OUT.inputs"
echo "$OUT"
