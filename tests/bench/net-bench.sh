#!/bin/bash
# virtio-net benchmark: TCP throughput between guest and host over a TAP device, vmm against
# QEMU's virtio-net-pci without vhost, same kernel, initramfs and root image, in the same
# nested-KVM sandbox (or directly on a host with /dev/kvm). The guest runs iperf3 (copied into
# the test root by firmware/build-test-rootfs.sh) against an iperf3 server on the host end of
# the TAP, once in each direction. Not part of ctest.
#
#   tests/bench/net-bench.sh [--seconds N] [--vmm PATH] [--vhost] [--jail]
#
# --vhost compares the kernel's vhost-net data path on both sides instead: vmm with
# `--net tap=...,vhost=on` against QEMU's `-netdev tap,...,vhost=on` (vmm's figures are dropped,
# and the run fails, when vmm fell back to its user-space path).
# --jail compares vmm with `vmm run --jail` (README, Confinement) instead of QEMU: the ratio is
# what the jail costs in throughput.
#
# Defaults: 10 s per direction, ./build/vmm. Prints MB/s (MBytes/s as iperf3's receiver counts
# them) for guest->host and host->guest, and the vmm/QEMU ratios. Inside the sandbox every
# instruction is emulated (QEMU TCG), so absolute numbers are far below a real host's; the
# ratio is what to read. Needs iperf3 on the host (apt-get install iperf3) and root (the TAP).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
export VMM_CACHE_DIR=$CACHE

die() { echo "net-bench: $*" >&2; exit 1; }

seconds=10 vmm=$REPO/build/vmm inside=0 vhost=off jail=0
while (($#)); do
  case $1 in
    --seconds) seconds=${2:?}; shift 2 ;;
    --vmm) vmm=$(realpath "${2:?}"); shift 2 ;;
    --inside) inside=1; shift ;;
    --vhost) vhost=on; shift ;;
    --jail) jail=1; shift ;;
    *) die "unknown option $1 (see the header of $0)" ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "bad --seconds $seconds"

vhost_arg=()
[[ $vhost == on ]] && vhost_arg=(--vhost)
((jail)) && vhost_arg+=(--jail)
if ((inside == 0)); then
  [[ -x $vmm ]] || die "$vmm not found; build first (cmake -B build -G Ninja && ninja -C build)"
  command -v iperf3 >/dev/null || die "iperf3 not found (apt-get install iperf3)"
  "$REPO/firmware/build-rootfs-initramfs.sh" >/dev/null
  "$REPO/firmware/build-test-rootfs.sh" >/dev/null
  "$REPO/tests/sandbox/vmm-sandbox" prepare >/dev/null
  exec "$REPO/tests/sandbox/vmm-sandbox" run --timeout $((600 + 8 * seconds)) --memory 3072 \
    -- "$0" --inside --seconds "$seconds" --vmm "$vmm" "${vhost_arg[@]}"
fi

# --- inside the sandbox (or on a host with /dev/kvm) ---
tap=vmmbench0 host_addr=192.168.210.1 guest_addr=192.168.210.2 mac=52:54:00:00:21:02
ip link show dev "$tap" >/dev/null 2>&1 && die "$tap exists already; remove it first"
work=$(mktemp -d /tmp/net-bench.XXXXXX)
server_pid=""
cleanup() {
  set +e
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  ip link del dev "$tap" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip tuntap add dev "$tap" mode tap
ip addr add "$host_addr/24" dev "$tap"
ip link set dev "$tap" up
iperf3 -s -B "$host_addr" >"$work/iperf3-server.log" 2>&1 &
server_pid=$!

kernel=$CACHE/kernel/bzImage
initrd=$CACHE/rootfs-initramfs.cpio.gz
cmdline="console=ttyS0 reboot=k panic=-1 quiet root=/dev/vda rw rootwait rd.emergency=reboot"
cmdline+=" vmmtest=ipaddr:$mac=$guest_addr/24,ping:$host_addr,iperf:$host_addr,reboot"
cmdline+=" vmmbench=$seconds"
limit=$((300 + 4 * seconds))

declare -A result
# parse NAME LOG: iperf_tx_MBps / iperf_rx_MBps markers -> result[NAME,tx|rx].
parse() {
  local name=$1 log=$2 dir value
  for dir in tx rx; do
    value=$(grep -a "VMMTEST: iperf_${dir}_MBps=" "$log" | tail -1 | sed 's/.*=//' | tr -d '\r')
    if [[ -z $value ]]; then
      echo "net-bench: $name gave no $dir result; its console:" >&2
      tail -n 30 "$log" >&2
    fi
    result[$name,$dir]=$value
  done
}

# run_vmm NAME [EXTRA vmm run ARGS...]: one boot of vmm, its figures as result[NAME,...].
run_vmm() {
  local name=$1
  shift
  echo "net-bench: $name ($vmm $*), vhost=$vhost, ${seconds}s per direction" >&2
  cp "$CACHE/test-rootfs.ext4" "$work/root.ext4"
  timeout "$limit" "$vmm" run "$@" --log-level info --kernel "$kernel" --initrd "$initrd" \
    --cmdline "$cmdline" --cpus 1 --memory 512M --disk "$work/root.ext4" \
    --net "tap=$tap,mac=$mac,vhost=$vhost" \
    >"$work/$name.log" 2>"$work/$name.err" </dev/null || echo "net-bench: $name exited with $?" >&2
  parse "$name" "$work/$name.log"
  if [[ $vhost == on ]] && ! grep -q "vhost-net serves the queues" "$work/$name.err"; then
    echo "net-bench: $name did not use vhost-net:" >&2
    grep -a "vhost" "$work/$name.err" >&2 || true
    result[$name,tx]="" result[$name,rx]=""
  fi
}
peer=qemu peer_title=QEMU
if ((jail)); then
  # The jail puts vmm in a cgroup of its own, which makes its threads one scheduling entity
  # beside the iperf3 server here: the plain run gets a cgroup of its own too (cgroup v2), so
  # the ratio is what the rest of the jail costs.
  plain_cgroup=/sys/fs/cgroup/net-bench.$$
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    echo +cpu +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    mkdir -p "$plain_cgroup"
    echo $$ >"$plain_cgroup/cgroup.procs"
  fi
  run_vmm vmm
  if [[ -d $plain_cgroup ]]; then
    echo $$ >/sys/fs/cgroup/cgroup.procs
    rmdir "$plain_cgroup"
  fi
  peer=jail peer_title="vmm --jail"
  run_vmm jail --jail
else
  run_vmm vmm
  echo "net-bench: QEMU virtio-net-pci, vhost=$vhost" >&2
  cp "$CACHE/test-rootfs.ext4" "$work/root.ext4"
  timeout "$limit" qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 512M -nodefaults -no-reboot \
    -display none -serial stdio -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
    -drive "file=$work/root.ext4,format=raw,if=none,id=root" -device virtio-blk-pci,drive=root \
    -netdev "tap,id=net0,ifname=$tap,script=no,downscript=no,vhost=$vhost" \
    -device "virtio-net-pci,netdev=net0,mac=$mac" >"$work/qemu.log" 2>&1 </dev/null ||
    echo "net-bench: QEMU exited with $?" >&2
  parse qemu "$work/qemu.log"
fi

ratio() {
  [[ -n $1 && -n $2 ]] || { echo "-"; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
if ((jail)); then
  # Read as "what the jail keeps": vmm --jail over plain vmm.
  printf '%-30s %12s %12s %10s\n' "virtio-net over TAP, vhost=$vhost" vmm "$peer_title" jail/vmm
  printf '%-30s %12s %12s %10s\n' "guest -> host (MB/s)" "${result[vmm,tx]:--}" \
    "${result[jail,tx]:--}" "$(ratio "${result[jail,tx]}" "${result[vmm,tx]}")"
  printf '%-30s %12s %12s %10s\n' "host -> guest (MB/s)" "${result[vmm,rx]:--}" \
    "${result[jail,rx]:--}" "$(ratio "${result[jail,rx]}" "${result[vmm,rx]}")"
else
  printf '%-30s %12s %12s %10s\n' "virtio-net over TAP, vhost=$vhost" vmm QEMU vmm/QEMU
  printf '%-30s %12s %12s %10s\n' "guest -> host (MB/s)" "${result[vmm,tx]:--}" \
    "${result[qemu,tx]:--}" "$(ratio "${result[vmm,tx]}" "${result[qemu,tx]}")"
  printf '%-30s %12s %12s %10s\n' "host -> guest (MB/s)" "${result[vmm,rx]:--}" \
    "${result[qemu,rx]:--}" "$(ratio "${result[vmm,rx]}" "${result[qemu,rx]}")"
fi
status=0
for name in vmm $peer; do
  for dir in tx rx; do
    [[ -n ${result[$name,$dir]} ]] || status=1
  done
done
exit "$status"
