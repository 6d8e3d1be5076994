#!/bin/busybox sh
# /init of the L2 test guest. The KVM tests read these markers from the serial console.
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

echo "VMMTEST: init started"
# `vmm bench`: the start-to-init measurement ends here, as in the Firecracker paper's method
# (init writes the debug-exit port), or once a line arrives on the console (density: every
# instance is held until all are up).
case " $(cat /proc/cmdline) " in
  *" vmmbench=exit "*) outb 0xf4 16 ;;
  *" vmmbench=wait "*) read -r _ && outb 0xf4 16 ;;
esac
# Drivers the stock kernel has as modules (built into the minimal kernel: insmod then fails).
if [ -f /lib/modules/load-order ]; then
  while read -r module; do insmod "/lib/modules/$module" 2>/dev/null; done </lib/modules/load-order
fi
# What the platform told the kernel: ACPI tables, DMI (SMBIOS) identity, the CPU's name.
echo "VMMTEST: acpi_tables=$(ls /sys/firmware/acpi/tables 2>/dev/null | tr '\n' ' ')"
echo "VMMTEST: dmi_vendor=$(cat /sys/class/dmi/id/sys_vendor 2>/dev/null)"
echo "VMMTEST: dmi_product=$(cat /sys/class/dmi/id/product_name 2>/dev/null)"
echo "VMMTEST: dmi_uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)"
echo "VMMTEST: cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: //')"
# /sys/devices/system/cpu/online is a list like 0-3; /proc/cpuinfo counts what booted.
echo "VMMTEST: cpus=$(grep -c '^processor' /proc/cpuinfo)"
echo "VMMTEST: cpus_online=$(cat /sys/devices/system/cpu/online)"
echo "VMMTEST: memtotal_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "VMMTEST: date=$(date -u +%Y-%m-%d)"

action=default
for arg in $(cat /proc/cmdline); do
  case $arg in
    vmmtest=*) action=${arg#vmmtest=} ;;
  esac
done
echo "VMMTEST: action=$action"

case $action in
  poweroff)
    echo "VMMTEST: powering off"
    poweroff -f
    ;;
  debugexit=*)
    value=${action#debugexit=}
    echo "VMMTEST: debug exit $value"
    outb 0xf4 "$value"
    echo "VMMTEST: debug exit did not stop the VM"
    ;;
  shell)
    echo "VMMTEST: shell ready"
    # setsid + cttyhack would give job control; a plain sh on the console is all tests need.
    exec sh
    ;;
  powerbutton)
    # The ACPI power button's input device: its first event (the key press) powers off, as
    # systemd-logind or acpid would.
    event=""
    for dev in /sys/class/input/event*; do
      [ "$(cat "$dev/device/name" 2>/dev/null)" = "Power Button" ] && event=/dev/input/${dev##*/}
    done
    if [ -z "$event" ]; then
      echo "VMMTEST: no power button"
    else
      echo "VMMTEST: waiting for the power button on $event"
      head -c 1 "$event" >/dev/null
      echo "VMMTEST: power button pressed"
      poweroff -f
    fi
    ;;
  panic)
    echo "VMMTEST: panicking"
    echo c >/proc/sysrq-trigger
    echo "VMMTEST: still alive after the panic"
    ;;
  ticker)
    # A counter every 100 ms: pause, resume and signal tests watch it stop and go on.
    i=0
    while :; do
      echo "VMMTEST: tick=$i"
      i=$((i + 1))
      usleep 100000
    done
    ;;
  sleep)
    echo "VMMTEST: sleeping"
    while :; do sleep 3600; done
    ;;
  overwrite=*)
    # Pseudo-random data over the whole disk, synced, then read back past the page cache; the
    # host compares its image before and after (snapshot disks must keep it). The guest then
    # holds until a line arrives on the console, so several VMs can be checked while all run.
    dev=/dev/${action#overwrite=}
    bytes=$(($(cat "/sys/block/${dev#/dev/}/size") * 512))
    head -c "$bytes" /dev/urandom >/tmp/overwrite.data
    echo "VMMTEST: overwrite_bytes=$bytes"
    echo "VMMTEST: overwrite_written_sha256=$(sha256sum </tmp/overwrite.data | cut -d' ' -f1)"
    dd if=/tmp/overwrite.data of="$dev" bs=64k conv=fsync 2>/dev/null ||
      echo "VMMTEST: overwrite_error=dd failed"
    rm -f /tmp/overwrite.data
    sync
    echo 3 >/proc/sys/vm/drop_caches
    echo "VMMTEST: overwrite_readback_sha256=$(sha256sum <"$dev" | cut -d' ' -f1)"
    echo "VMMTEST: overwrite done"
    read -r _
    ;;
  ktap)
    # KTAP as KUnit prints it, one case failing on purpose (`vmm farm` reads it off the console).
    echo "KTAP version 1"
    echo "1..1"
    echo "    KTAP version 1"
    echo "    # Subtest: vmmtest"
    echo "    1..3"
    echo "    ok 1 boots"
    echo "    not ok 2 fails_on_purpose"
    echo "    ok 3 nothing_to_do # SKIP no device"
    echo "not ok 1 vmmtest"
    ;;
  9p)
    # virtio-9p shares "rw" and "ro" (vmm --share DIR,tag=rw --share DIR,tag=ro,readonly=on):
    # checksums of what the host put there and of what the guest writes, a write to the
    # read-only share, and reads through symlinks and `..` that would leave the share.
    if [ -f /lib/modules/9p/load-order ]; then
      while read -r module; do insmod "/lib/modules/9p/$module" 2>/dev/null; done \
        </lib/modules/9p/load-order
    fi
    mkdir -p /mnt/rw /mnt/ro
    opts=trans=virtio,version=9p2000.L,msize=524288
    if mount -t 9p -o "$opts" rw /mnt/rw && mount -t 9p -o "$opts" ro /mnt/ro; then
      echo "VMMTEST: 9p mounted"
    else
      lsmod
      dmesg | grep -i -E '9p|virtio' | tail -20
    fi
    # Large blocks: without a cache every read() and write() is one 9P request.
    sum=$(dd if=/mnt/rw/from-host.bin bs=512k 2>/dev/null | sha256sum | cut -d' ' -f1)
    echo "VMMTEST: 9p host_sha=$sum"
    head -c 67108864 /dev/urandom >/tmp/from-guest.bin
    echo "VMMTEST: 9p guest_sha=$(sha256sum /tmp/from-guest.bin | cut -d' ' -f1)"
    dd if=/tmp/from-guest.bin of=/mnt/rw/from-guest.bin bs=512k 2>/dev/null && sync
    rm /tmp/from-guest.bin
    if echo x >/mnt/ro/new 2>/dev/null; then echo "VMMTEST: 9p ro_write=allowed"; else
      echo "VMMTEST: 9p ro_write=refused"; fi
    if rm /mnt/ro/keep 2>/dev/null; then echo "VMMTEST: 9p ro_remove=allowed"; else
      echo "VMMTEST: 9p ro_remove=refused"; fi
    echo "VMMTEST: 9p ro_read=$(cat /mnt/ro/keep)"
    for f in /mnt/rw/../rw/../../secret /mnt/rw/outside-abs /mnt/rw/outside-rel \
             /mnt/rw/outside-dir/secret /mnt/rw/passwd; do
      echo "VMMTEST: 9p escape $f: $(head -c 80 "$f" 2>&1)"
    done
    umount /mnt/rw /mnt/ro
    echo "VMMTEST: 9p done"
    poweroff -f
    ;;
  reboot | default) ;;
  *) echo "VMMTEST: unknown action $action" ;;
esac
echo "VMMTEST: rebooting"
reboot -f
