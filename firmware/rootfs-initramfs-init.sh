#!/bin/busybox sh
# /init of the root-on-disk initramfs (firmware/build-rootfs-initramfs.sh). A stock distribution
# kernel has virtio and ext4 as modules, so this loads them from the kernel's own module tree,
# waits for the root= device, mounts it and switch_root's to its init.
#
# Kernel parameters it reads:
#   root=/dev/vda | LABEL=x | UUID=x   the root file system (required)
#   rootfstype=TYPE (default ext4)  rootflags=OPTS  ro | rw (default rw)
#   init=PATH (default /sbin/init)
#   rootdelay=SECONDS               how long to wait for the root device (default 30)
#   rd.emergency=shell|reboot|poweroff   what to do when something fails (default shell)
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

say() { echo "rootfs-initramfs: $*"; }

root="" fstype=ext4 flags="" mode=rw init=/sbin/init delay=30 emergency=shell
for arg in $(cat /proc/cmdline); do
  case $arg in
    root=*) root=${arg#root=} ;;
    rootfstype=*) fstype=${arg#rootfstype=} ;;
    rootflags=*) flags=${arg#rootflags=} ;;
    ro | rw) mode=$arg ;;
    init=*) init=${arg#init=} ;;
    rootdelay=*) delay=${arg#rootdelay=} ;;
    rd.emergency=*) emergency=${arg#rd.emergency=} ;;
  esac
done

fail() {
  say "error: $*"
  case $emergency in
    reboot) say "rebooting"; reboot -f ;;
    poweroff) say "powering off"; poweroff -f ;;
    *) say "dropping to a shell"; exec sh ;;
  esac
  # reboot -f returns when the reboot is underway; never fall through to the switch.
  while :; do sleep 3600; done
}

# Dependency order, resolved at build time from each module's `depends`. A module that fails to
# load (e.g. crc32c-intel on a CPU without SSE4.2) is reported; whatever is missing then shows
# up as a missing device or a failing mount below.
while read -r module; do
  [ -n "$module" ] || continue
  insmod "/lib/modules/$module" 2>/dev/null || say "warning: cannot load $module"
done </lib/modules/load-order

[ -n "$root" ] || fail "no root= on the kernel command line"

# LABEL=/UUID= need the block devices to be scanned; findfs does that each round.
device=""
waited=0
while :; do
  case $root in
    LABEL=* | UUID=*) device=$(findfs "$root" 2>/dev/null) ;;
    *) [ -b "$root" ] && device=$root ;;
  esac
  [ -n "$device" ] && break
  [ "$waited" -ge "$((delay * 10))" ] && fail "root device $root did not appear within ${delay}s"
  usleep 100000
  waited=$((waited + 1))
done

mkdir -p /newroot
options=$mode
[ -n "$flags" ] && options=$options,$flags
if ! mount -t "$fstype" -o "$options" "$device" /newroot; then
  # The kernel says why (a missing module, a bad superblock); `quiet` would hide it.
  dmesg | tail -n 5
  fail "cannot mount $device ($fstype, $options) on /newroot"
fi
[ -x "/newroot$init" ] || [ -L "/newroot$init" ] || fail "$init not found on $device"
say "root $device ($fstype, $mode) mounted; starting $init"

# The root keeps the devtmpfs (device nodes and the console); proc and sys are the new init's.
[ -d /newroot/dev ] && mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot "$init"
