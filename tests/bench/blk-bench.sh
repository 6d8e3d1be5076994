#!/bin/bash
# virtio-blk benchmark: vmm against QEMU's virtio-blk-pci, same kernel, initramfs, root image and
# data disk, in the same nested-KVM sandbox (or directly on a host with /dev/kvm). The guest runs
# firmware/guest-tools/blkbench on its data disk (/dev/vdb): sequential O_DIRECT write and read
# in 1 MiB blocks (MB/s) and 4 KiB random reads at queue depth 1 and 32 (IOPS; depth 32 from
# 32 guest threads). Not part of ctest.
#
#   tests/bench/blk-bench.sh [--seconds N] [--cache writeback|none] [--disk-mib N]
#                            [--vmm PATH] [--kernel stock|minimal] [--queues N]
#
# --queues N (default 1) gives the data disk N request queues in both VMMs (vmm: queues=N,
# QEMU: num-queues=N) and the guest N vCPUs, so that its blk-mq uses them all.
# Defaults: 5 s per measurement, cache=writeback (host page cache in both VMMs), a 256 MiB data
# disk in the sandbox's /tmp (RAM: this measures the virtualization path, not a host disk),
# ./build/vmm, the stock kernel with the root-on-disk initramfs. Inside the sandbox every
# instruction is emulated (QEMU TCG), so absolute numbers are far below a real host's; the
# vmm/QEMU ratio is what to read. --cache none needs O_DIRECT on the disk's file system: where
# the sandbox's /tmp is a tmpfs without it (Linux before 6.6), both vmm and QEMU refuse to
# open the disk; use it on a host with /dev/kvm.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
export VMM_CACHE_DIR=$CACHE

die() { echo "blk-bench: $*" >&2; exit 1; }

seconds=5 cache=writeback disk_mib=256 vmm=$REPO/build/vmm kernel_kind=stock inside=0 queues=1
while (($#)); do
  case $1 in
    --seconds) seconds=${2:?}; shift 2 ;;
    --cache) cache=${2:?}; shift 2 ;;
    --disk-mib) disk_mib=${2:?}; shift 2 ;;
    --vmm) vmm=$(realpath "${2:?}"); shift 2 ;;
    --kernel) kernel_kind=${2:?}; shift 2 ;;
    --queues) queues=${2:?}; shift 2 ;;
    --inside) inside=1; shift ;;
    *) die "unknown option $1 (see the header of $0)" ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "bad --seconds $seconds"
[[ $disk_mib =~ ^[1-9][0-9]*$ ]] || die "bad --disk-mib $disk_mib"
[[ $cache == writeback || $cache == none ]] || die "bad --cache $cache"
[[ $kernel_kind == stock || $kernel_kind == minimal ]] || die "bad --kernel $kernel_kind"
[[ $queues =~ ^([1-9]|1[0-6])$ ]] || die "bad --queues $queues (1 to 16)"

if ((inside == 0)); then
  [[ -x $vmm ]] || die "$vmm not found; build first (cmake -B build -G Ninja && ninja -C build)"
  "$REPO/firmware/build-rootfs-initramfs.sh" >/dev/null
  "$REPO/firmware/build-test-rootfs.sh" >/dev/null
  [[ $kernel_kind == minimal ]] && "$REPO/firmware/build-minimal-kernel.sh" >/dev/null
  "$REPO/tests/sandbox/vmm-sandbox" prepare >/dev/null
  # More memory than the default: two 512 MiB guests one after the other plus the disks in /tmp.
  exec "$REPO/tests/sandbox/vmm-sandbox" run --timeout $((600 + 12 * seconds)) --memory 3072 \
    -- "$0" --inside --seconds "$seconds" --cache "$cache" --disk-mib "$disk_mib" --vmm "$vmm" \
    --kernel "$kernel_kind" --queues "$queues"
fi

# --- inside the sandbox (or on a host with /dev/kvm) ---
work=$(mktemp -d /tmp/blk-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$CACHE/test-rootfs.ext4" "$work/root.ext4"
if [[ $kernel_kind == stock ]]; then
  kernel=$CACHE/kernel/bzImage
  initrd=(--initrd "$CACHE/rootfs-initramfs.cpio.gz")
  qemu_initrd=(-initrd "$CACHE/rootfs-initramfs.cpio.gz")
else
  kernel=$CACHE/minimal-kernel/bzImage
  initrd=() qemu_initrd=()
fi
cmdline="console=ttyS0 reboot=k panic=-1 quiet root=/dev/vda rw rootwait rd.emergency=reboot"
cmdline+=" vmmtest=bench:vdb,reboot vmmbench=$seconds"
limit=$((300 + 8 * seconds))

# A data disk full of data, so that reads are not of holes.
fresh_disk() {
  rm -f "$work/data.img"
  head -c $((disk_mib * 1024 * 1024)) /dev/urandom >"$work/data.img"
}

declare -A result
# parse NAME LOG: bench_MODE lines -> result[NAME,MODE] = MB/s (seq) or IOPS (randread).
parse() {
  local name=$1 log=$2 mode line
  for mode in seqwrite seqread randread randread_qd32; do
    line=$(grep -a "VMMTEST: bench_$mode=blkbench" "$log" | tail -1 || true)
    if [[ -z $line ]]; then
      echo "blk-bench: $name gave no $mode result; its console:" >&2
      tail -n 30 "$log" >&2
      result[$name,$mode]=
      continue
    fi
    if [[ $mode == randread* ]]; then
      result[$name,$mode]=$(sed -n 's/.* IOPS=\([0-9.]*\).*/\1/p' <<<"$line")
    else
      result[$name,$mode]=$(sed -n 's/.* MBps=\([0-9.]*\).*/\1/p' <<<"$line")
    fi
  done
}

echo "blk-bench: vmm ($vmm), cache=$cache, ${seconds}s per measurement, ${disk_mib} MiB disk," \
  "$queues queue(s)" >&2
fresh_disk
timeout "$limit" "$vmm" run --kernel "$kernel" "${initrd[@]}" --cmdline "$cmdline" \
  --cpus "$queues" --memory 512M --disk "$work/root.ext4" \
  --disk "$work/data.img,cache=$cache,queues=$queues" \
  >"$work/vmm.log" 2>"$work/vmm.err" </dev/null || echo "blk-bench: vmm exited with $?" >&2
parse vmm "$work/vmm.log"

echo "blk-bench: QEMU, cache=$cache" >&2
fresh_disk
qemu_cache=writeback
[[ $cache == none ]] && qemu_cache=none
timeout "$limit" qemu-system-x86_64 -enable-kvm -cpu host -smp "$queues" -m 512M -nodefaults -no-reboot \
  -display none -serial stdio -kernel "$kernel" "${qemu_initrd[@]}" -append "$cmdline" \
  -drive "file=$work/root.ext4,format=raw,if=none,id=root" -device virtio-blk-pci,drive=root \
  -drive "file=$work/data.img,format=raw,if=none,id=data,cache=$qemu_cache" \
  -device "virtio-blk-pci,drive=data,num-queues=$queues" >"$work/qemu.log" 2>&1 </dev/null ||
  echo "blk-bench: QEMU exited with $?" >&2
parse qemu "$work/qemu.log"

ratio() {
  [[ -n $1 && -n $2 ]] || { echo "-"; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
printf '%-28s %12s %12s %10s\n' "virtio-blk, cache=$cache, queues=$queues" vmm QEMU vmm/QEMU
printf '%-28s %12s %12s %10s\n' "sequential write (MB/s)" "${result[vmm,seqwrite]:--}" \
  "${result[qemu,seqwrite]:--}" "$(ratio "${result[vmm,seqwrite]}" "${result[qemu,seqwrite]}")"
printf '%-28s %12s %12s %10s\n' "sequential read (MB/s)" "${result[vmm,seqread]:--}" \
  "${result[qemu,seqread]:--}" "$(ratio "${result[vmm,seqread]}" "${result[qemu,seqread]}")"
printf '%-28s %12s %12s %10s\n' "4 KiB random read (IOPS)" "${result[vmm,randread]:--}" \
  "${result[qemu,randread]:--}" "$(ratio "${result[vmm,randread]}" "${result[qemu,randread]}")"
printf '%-28s %12s %12s %10s\n' "4 KiB random read QD32 (IOPS)" "${result[vmm,randread_qd32]:--}" \
  "${result[qemu,randread_qd32]:--}" \
  "$(ratio "${result[vmm,randread_qd32]}" "${result[qemu,randread_qd32]}")"
for name in vmm qemu; do
  for mode in seqwrite seqread randread randread_qd32; do
    [[ -n ${result[$name,$mode]} ]] || exit 1
  done
done
