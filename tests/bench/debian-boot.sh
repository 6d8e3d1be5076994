#!/usr/bin/env bash
# Debian 12 with systemd (firmware/build-debian-image.sh): vmm against QEMU (q35) on the same
# stock kernel, rootfs initramfs and image, in the same place (the nested sandbox when the host
# has no usable /dev/kvm). Not a test: it prints figures.
#
#   tests/bench/debian-boot.sh [RUNS]        (default 2 runs of each)
#
# For each run: the time from starting the VMM to systemd's "Reached target ... Multi-User
# System" on the serial console, and the time from typing `systemctl poweroff` at the root
# shell (the serial getty logs root in) to the VMM's exit, with its exit status.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
RUNS=${1:-2}

if [[ ${VMM_BENCH_INNER:-0} != 1 ]]; then
  firmware/build-rootfs-initramfs.sh >/dev/null
  firmware/build-debian-image.sh >/dev/null
  mkdir -p "$ROOT/build/bench-debian"
  exec tests/sandbox/vmm-sandbox run --timeout 3000 --memory 4096 --share-rw "$ROOT/build" \
    --env VMM_BENCH_INNER=1 -- "$0" "$RUNS"
fi

KERNEL=$CACHE/kernel/bzImage
INITRD=$CACHE/rootfs-initramfs.cpio.gz
IMAGE=$CACHE/debian-12.ext4
DISK=$ROOT/build/bench-debian/disk.ext4
CMDLINE="console=ttyS0 reboot=k panic=1 root=/dev/vda rw"
VMM=${VMM_BIN:-$ROOT/build/vmm}

since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }

# measure CMD...: prints "boot_seconds poweroff_seconds exit_status" for one boot.
measure() {
  local out in start line pid boot="" prompt=0 off_start off
  cp "$IMAGE" "$DISK"
  out=$(mktemp -u) in=$(mktemp -u)
  mkfifo "$out" "$in"
  start=$EPOCHREALTIME
  "$@" <"$in" >"$out" 2>/dev/null &
  pid=$!
  exec {w}>"$in"
  while IFS= read -r line; do
    [[ -z $boot && $line == *"Reached target"*"Multi-User System"* ]] && boot=$(since "$start")
    if [[ $prompt == 0 && $line == *"root@vmm-debian:"* ]]; then
      prompt=1
      sleep 2
      off_start=$EPOCHREALTIME
      echo "systemctl poweroff" >&$w
    fi
  done <"$out"
  local status=0
  wait "$pid" || status=$?
  off=$(since "$off_start")
  exec {w}>&-
  rm -f "$out" "$in" "$DISK"
  echo "${boot:-nan} $off $status"
}

run_series() {
  local name=$1
  shift
  for ((i = 1; i <= RUNS; i++)); do
    read -r boot off status < <(measure "$@")
    printf '%-5s run %d: multi-user after %7.2f s; poweroff to exit %6.2f s (exit %d)\n' \
      "$name" "$i" "$boot" "$off" "$status"
    echo "$name $boot $off" >>"$RESULTS"
  done
}

RESULTS=$(mktemp)
run_series vmm "$VMM" run --kernel "$KERNEL" --initrd "$INITRD" --disk "$DISK" --cpus 2 \
  --memory 1G --cmdline "$CMDLINE"
run_series qemu qemu-system-x86_64 -enable-kvm -M q35 -cpu host -smp 2 -m 1G -nodefaults \
  -no-reboot -display none -serial stdio -kernel "$KERNEL" -initrd "$INITRD" \
  -append "$CMDLINE" -drive "file=$DISK,format=raw,if=virtio"

echo
awk '
  { n[$1]++; b[$1] += $2; o[$1] += $3 }
  END {
    printf "mean multi-user: vmm %.2f s, qemu %.2f s (vmm/qemu %.2f)\n", b["vmm"] / n["vmm"],
           b["qemu"] / n["qemu"], (b["vmm"] / n["vmm"]) / (b["qemu"] / n["qemu"])
    printf "mean poweroff to exit: vmm %.2f s, qemu %.2f s\n", o["vmm"] / n["vmm"], o["qemu"] / n["qemu"]
  }' "$RESULTS"
rm -f "$RESULTS"
