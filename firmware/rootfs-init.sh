#!/bin/sh
# /sbin/init of the busybox root file system the block-device KVM tests boot from an ext4 disk
# (firmware/build-test-rootfs.sh). Like the test initramfs it prints `VMMTEST: key=value`
# markers on the console, then runs the actions of the kernel parameter
#   vmmtest=ACTION[,ACTION...]        each ACTION is NAME or NAME:DEVICE (a name under /dev)
#   vmmtoken=TEXT                     the data the fsync action writes and httpd serves
#   vmmbench=SECONDS                  how long each bench measurement runs (default 10)
#
#   info             block devices: size, read-only flag, serial; the root mount
#   blkwrite:DEV     write 64 MiB of pseudo-random data (less if DEV is smaller) with O_DIRECT,
#                    sync, drop the caches, read it back; prints blkwrite_written_sha256 and
#                    blkwrite_readback_sha256 (the host compares both with its own checksum)
#   ro:DEV           try to write to DEV (expected read-only): ro_sysfs, ro_write=refused|
#                    accepted, ro_read_sha256 (checksum of the whole device)
#   discard:DEV      blkdiscard DEV: discard=ok|failed, discard_zeroes=yes|no (first MiB)
#   fsync:DEV        write vmmtoken, padded to 4 KiB, at offset 0 of DEV and fsync the device;
#                    write it to /durable-token on the root file system and fsync that file;
#                    then print "VMMTEST: synced" (the test then kills the VMM)
#   bench:DEV        sequential write/read MB/s and 4 KiB random-read IOPS with blkbench, the
#                    random reads at queue depth 1 and 32
#   netinfo          network interfaces: nic_count, nic_NAME=mac:MAC mtu:MTU driver:DRIVER
#                    rxq:N txq:N (the queues the kernel uses)
#   ipaddr:MAC=A/P   bring up the interface with that MAC and give it address A/P:
#                    ipaddr_A=NAME|no interface|failed
#   ping:ADDR        20 pings, 0.2 s apart: ping_ADDR=N% (the packet loss)
#   tcpsend:ADDR:PORT  send 64 MiB of pseudo-random data to ADDR:PORT and close (with
#                    tcpsend, firmware/guest-tools/tcpsend.c: 1 MiB writes, where busybox nc
#                    writes 1 KiB at a time): tcpsend_sha256 (before sending), tcpsend=ok|failed
#   fetch:NAME=URL   download URL with wget: fetch_NAME_bytes, fetch_NAME_sha256 (or
#                    fetch_NAME=failed)
#   dhcp[:MAC]       DHCP on the interface with that MAC, or the first one (udhcpc with
#                    firmware/udhcpc-script.sh):
#                    dhcp_addr=A/P, dhcp_router, dhcp_dns (or dhcp=failed)
#   httpd:PORT       serve /tmp/www (holding the file `token` = vmmtoken) with busybox httpd;
#                    then prints httpd_ready=PORT
#   iperf:ADDR       iperf3 TCP client against a server on ADDR, vmmbench seconds each way:
#                    iperf_tx_MBps (guest to host), iperf_rx_MBps (host to guest)
#   vsockinfo        the vsock device: vsock_cid=CID (the guest's own) or vsock_cid=none
#   vsocklisten:PORT an echo server on vsock PORT in the background (firmware/guest-tools/
#                    vsockcat.c: each connection gets back what it sends, then a half-close):
#                    vsock_listen_PORT=ready|failed
#   vsocksend:PORT   connect to the host (CID 2) on vsock PORT, send 4 MiB of pseudo-random
#                    data, half-close and read the answer to its end: vsocksend_PORT_sha256
#                    (what was sent), vsocksend_PORT_reply_bytes, vsocksend_PORT_reply_sha256,
#                    vsocksend_PORT=ok|failed
#   hvc              an interactive shell on /dev/hvc0, which says "VMMTEST: hvc shell ready"
#                    on hvc0 itself; the boot continues when it exits
#   shell            a shell on the console
#   sleep            sleep forever
#   poweroff|reboot  end the boot (default after the last action: reboot)
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
# Mounted already when an initramfs moved /dev over, or by the kernel (DEVTMPFS_MOUNT).
grep -q ' /proc ' /proc/mounts 2>/dev/null || mount -t proc proc /proc
grep -q ' /sys ' /proc/mounts || mount -t sysfs sysfs /sys
grep -q ' /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1

mark() { echo "VMMTEST: $*"; }

mark "rootfs init started"
# The block device under / by its own name: a kernel that mounts root= itself calls it /dev/root.
root_device() {
  local dev majmin dir
  dev=$(stat -c %d /)
  majmin=$(((dev >> 8) & 0xfff)):$(((dev & 0xff) | ((dev >> 12) & 0xfff00)))
  for dir in /sys/class/block/*; do
    [ "$(cat "$dir/dev")" = "$majmin" ] && echo "/dev/${dir##*/}"
  done
}
mark "root_mount=$(root_device) $(awk '$2 == "/" { print $3 " " substr($4, 1, 2) }' /proc/mounts | tail -1)"

actions=reboot
token=""
bench_seconds=10
for arg in $(cat /proc/cmdline); do
  case $arg in
    vmmtest=*) actions=${arg#vmmtest=} ;;
    vmmtoken=*) token=${arg#vmmtoken=} ;;
    vmmbench=*) bench_seconds=${arg#vmmbench=} ;;
  esac
done
mark "actions=$actions"

sha() { sha256sum | cut -d' ' -f1; }

info() {
  local dir name serial
  for dir in /sys/block/vd*; do
    [ -d "$dir" ] || continue
    name=${dir##*/}
    serial=$(cat "$dir/serial" 2>/dev/null)
    mark "disk_$name=sectors:$(cat "$dir/size") ro:$(cat "$dir/ro") serial:$serial"
    # The device's sysfs path shows the transport it sits on.
    case $(readlink -f "$dir") in
      # virtio-mmio devices from the command line, or from the ACPI DSDT (LNRO0005)
      */virtio-mmio* | */virtio_mmio* | */LNRO0005:*) mark "transport_$name=mmio" ;;
      */pci0000:*) mark "transport_$name=pci" ;;
      *) mark "transport_$name=unknown $(readlink -f "$dir")" ;;
    esac
  done
}

blkwrite() {
  local dev=/dev/$1
  local bytes mib
  bytes=$(blockdev --getsize64 "$dev") || { mark "blkwrite=no device $dev"; return; }
  mib=$((bytes / 1048576))
  [ "$mib" -gt 64 ] && mib=64
  head -c "$((mib * 1048576))" /dev/urandom >/tmp/blkwrite.data
  mark "blkwrite_mib=$mib"
  mark "blkwrite_written_sha256=$(sha </tmp/blkwrite.data)"
  dd if=/tmp/blkwrite.data of="$dev" bs=1M oflag=direct status=none || mark "blkwrite=dd failed"
  rm -f /tmp/blkwrite.data
  sync
  echo 3 >/proc/sys/vm/drop_caches
  mark "blkwrite_readback_sha256=$(head -c "$((mib * 1048576))" "$dev" | sha)"
}

ro() {
  local dev=/dev/$1
  mark "ro_sysfs=$(cat "/sys/block/$1/ro")"
  # O_DIRECT and fsync: an accepted write has to reach the device, not just the page cache.
  if dd if=/dev/zero of="$dev" bs=4096 count=1 oflag=direct conv=fsync status=none 2>/dev/null; then
    mark "ro_write=accepted"
  else
    mark "ro_write=refused"
  fi
  mark "ro_read_sha256=$(sha <"$dev")"
}

discard() {
  local dev=/dev/$1
  mark "discard_max_bytes=$(cat "/sys/block/$1/queue/discard_max_bytes")"
  if blkdiscard "$dev"; then mark "discard=ok"; else mark "discard=failed"; fi
  sync
  echo 3 >/proc/sys/vm/drop_caches
  if [ "$(head -c 1048576 "$dev" | sha)" = "$(head -c 1048576 /dev/zero | sha)" ]; then
    mark "discard_zeroes=yes"
  else
    mark "discard_zeroes=no"
  fi
}

fsync_token() {
  local dev=/dev/$1
  [ -n "$token" ] || { mark "fsync=no vmmtoken= given"; return; }
  # Through the page cache on purpose: fsync has to write it back and flush the disk.
  { printf '%s' "$token"; head -c 4096 /dev/zero; } | head -c 4096 |
    dd of="$dev" bs=4096 count=1 conv=fsync status=none || mark "fsync=device write failed"
  echo "$token" >/durable-token
  sync /durable-token || mark "fsync=file sync failed"
  mark "synced"
}

bench() {
  local dev=/dev/$1
  local mode
  for mode in seqwrite seqread randread; do
    mark "bench_$mode=$(blkbench "$mode" "$dev" "$bench_seconds")"
  done
  mark "bench_randread_qd32=$(blkbench randread "$dev" "$bench_seconds" 4096 32)"
}

# The interface with a MAC address (no MAC: the first one besides lo), waiting up to 10 s for
# its driver to probe it.
iface_by_mac() {
  local mac=$1 dir tries=0
  while [ "$tries" -lt 100 ]; do
    for dir in /sys/class/net/*; do
      [ "${dir##*/}" = lo ] && continue
      if [ -z "$mac" ] || [ "$(cat "$dir/address" 2>/dev/null)" = "$mac" ]; then
        echo "${dir##*/}"
        return 0
      fi
    done
    usleep 100000
    tries=$((tries + 1))
  done
  return 1
}

netinfo() {
  local dir name count=0 rxq txq
  for dir in /sys/class/net/*; do
    name=${dir##*/}
    [ "$name" = lo ] && continue
    count=$((count + 1))
    rxq=$(ls -d "$dir"/queues/rx-* 2>/dev/null | wc -l)
    txq=$(ls -d "$dir"/queues/tx-* 2>/dev/null | wc -l)
    mark "nic_$name=mac:$(cat "$dir/address") mtu:$(cat "$dir/mtu") driver:$(basename "$(readlink -f "$dir/device/driver" 2>/dev/null)") rxq:$rxq txq:$txq"
  done
  mark "nic_count=$count"
}

ipaddr() {
  local mac=${1%%=*} addr=${1#*=} name
  name=$(iface_by_mac "$mac") || { mark "ipaddr_${addr%/*}=no interface"; return; }
  if ip link set "$name" up && ip addr add "$addr" dev "$name"; then
    mark "ipaddr_${addr%/*}=$name"
  else
    mark "ipaddr_${addr%/*}=failed"
  fi
}

ping_host() {
  local out loss
  out=$(ping -c 20 -i 0.2 -W 5 "$1" 2>&1)
  loss=$(echo "$out" | sed -n 's/.* \([0-9]*%\) packet loss.*/\1/p')
  mark "ping_$1=${loss:-no result: $(echo "$out" | tail -n 1)}"
}

tcpsend() {
  local addr=${1%:*} port=${1##*:}
  head -c 67108864 /dev/urandom >/tmp/tcpsend.data
  mark "tcpsend_sha256=$(sha </tmp/tcpsend.data)"
  # `command`: the program, not this function.
  if command tcpsend "$addr" "$port" </tmp/tcpsend.data; then mark "tcpsend=ok"; else mark "tcpsend=failed"; fi
  rm -f /tmp/tcpsend.data
}

fetch() {
  local name=${1%%=*} url=${1#*=}
  if wget -q -O /tmp/fetch.data "$url"; then
    mark "fetch_${name}_bytes=$(wc -c </tmp/fetch.data)"
    mark "fetch_${name}_sha256=$(sha </tmp/fetch.data)"
  else
    mark "fetch_$name=failed"
  fi
  rm -f /tmp/fetch.data
}

dhcp() {
  local name
  name=$(iface_by_mac "$1") || { mark "dhcp=no interface"; return; }
  ip link set "$name" up
  local addr
  if udhcpc -i "$name" -s /etc/udhcpc/default.script -n -q -t 10 -T 1 >/tmp/udhcpc.log 2>&1 &&
    addr=$(ip -4 -o addr show dev "$name" | awk '{ print $4; exit }') && [ -n "$addr" ]; then
    mark "dhcp_addr=$addr"
    mark "dhcp_router=$(ip route show default | awk '{ print $3; exit }')"
    mark "dhcp_dns=$(awk '/^nameserver/ { print $2; exit }' /etc/resolv.conf)"
  else
    mark "dhcp=failed $(tail -n 1 /tmp/udhcpc.log)"
  fi
}

httpd_serve() {
  mkdir -p /tmp/www
  printf '%s\n' "$token" >/tmp/www/token
  if httpd -p "$1" -h /tmp/www; then mark "httpd_ready=$1"; else mark "httpd=failed"; fi
}

# The receiver's rate of the iperf3 summary, in MBytes/sec.
iperf_rate() {
  awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "MBytes/sec") print $(i - 1) }' | tail -n 1
}

iperf() {
  command -v iperf3 >/dev/null || { mark "iperf=no iperf3 in the guest"; return; }
  mark "iperf_tx_MBps=$(iperf3 -c "$1" -t "$bench_seconds" -f M 2>&1 | iperf_rate)"
  mark "iperf_rx_MBps=$(iperf3 -c "$1" -t "$bench_seconds" -f M -R 2>&1 | iperf_rate)"
}

vsockinfo() {
  mark "vsock_cid=$(vsockcat cid 2>/dev/null || echo none)"
}

vsocklisten() {
  if vsockcat -d listen "$1"; then mark "vsock_listen_$1=ready"; else mark "vsock_listen_$1=failed"; fi
}

vsocksend() {
  head -c 4194304 /dev/urandom >/tmp/vsocksend.data
  mark "vsocksend_$1_sha256=$(sha </tmp/vsocksend.data)"
  if vsockcat connect 2 "$1" </tmp/vsocksend.data >/tmp/vsocksend.reply; then
    mark "vsocksend_$1_reply_bytes=$(wc -c </tmp/vsocksend.reply)"
    mark "vsocksend_$1_reply_sha256=$(sha </tmp/vsocksend.reply)"
    mark "vsocksend_$1=ok"
  else
    mark "vsocksend_$1=failed"
  fi
  rm -f /tmp/vsocksend.data /tmp/vsocksend.reply
}

hvc() {
  [ -c /dev/hvc0 ] || { mark "hvc=no /dev/hvc0"; return; }
  mark "starting hvc shell"
  # The ready line goes through hvc0 itself, so seeing it proves the port is open both ways.
  setsid -c sh -c 'echo "VMMTEST: hvc shell ready"; exec sh -i' </dev/hvc0 >/dev/hvc0 2>&1
  mark "hvc shell exited"
}

ending=reboot
for action in $(echo "$actions" | tr ',' ' '); do
  name=${action%%:*}
  arg=""
  [ "$name" != "$action" ] && arg=${action#*:}
  case $name in
    info) info ;;
    blkwrite) blkwrite "$arg" ;;
    ro) ro "$arg" ;;
    discard) discard "$arg" ;;
    fsync) fsync_token "$arg" ;;
    bench) bench "$arg" ;;
    netinfo) netinfo ;;
    ipaddr) ipaddr "$arg" ;;
    ping) ping_host "$arg" ;;
    tcpsend) tcpsend "$arg" ;;
    fetch) fetch "$arg" ;;
    dhcp) dhcp "$arg" ;;
    httpd) httpd_serve "$arg" ;;
    iperf) iperf "$arg" ;;
    vsockinfo) vsockinfo ;;
    vsocklisten) vsocklisten "$arg" ;;
    vsocksend) vsocksend "$arg" ;;
    hvc) hvc ;;
    shell) mark "shell ready"; sh ;;
    sleep) mark "sleeping"; while :; do sleep 3600; done ;;
    poweroff | reboot) ending=$name ;;
    *) mark "unknown action $action" ;;
  esac
  mark "done $name"
done

mark "actions finished"
sync
if [ "$ending" = poweroff ]; then
  mark "powering off"
  poweroff -f
else
  mark "rebooting"
  reboot -f
fi
while :; do sleep 3600; done
