#!/usr/bin/env bash
# Boot-time and memory benchmark: vmm against QEMU on the same kernel and initramfs, in the same
# place (the nested sandbox when the host has no usable /dev/kvm). Not a test: it prints figures.
#
#   tests/bench/boot-time.sh [RUNS]        (default 3 runs of each)
#
# For each run it records the time from starting the VMM to the guest init's first line
# ("VMMTEST: init started") and the VMM's resident memory excluding guest RAM (the sum of Rss
# over every mapping in /proc/PID/smaps except the guest RAM mapping), taken while the guest
# sleeps after boot.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
RUNS=${1:-3}
MEM_MB=256

if [[ ${VMM_BENCH_INNER:-0} != 1 ]]; then
  firmware/fetch-debian-kernel.sh >/dev/null
  firmware/build-test-initramfs.sh >/dev/null
  exec tests/sandbox/vmm-sandbox run --timeout 1800 --env VMM_BENCH_INNER=1 -- "$0" "$RUNS"
fi

KERNEL=$CACHE/kernel/bzImage
INITRD=$CACHE/test-initramfs.cpio.gz
CMDLINE="console=ttyS0 reboot=k panic=-1 quiet vmmtest=sleep"
VMM=${VMM_BIN:-$ROOT/build/vmm}

# rss_without_guest PID: kB resident outside the guest RAM mapping (MEM_MB in size).
rss_without_guest() {
  awk -v guest_kb=$((MEM_MB * 1024)) '
    /^[0-9a-f]+-[0-9a-f]+ / { in_guest = 0 }
    /^Size:/ { in_guest = ($2 == guest_kb) }
    /^Rss:/ { if (!in_guest) rss += $2 }
    END { print rss + 0 }' "/proc/$1/smaps"
}

# measure NAME CMD...: prints "seconds rss_kb" for one boot.
measure() {
  local fifo start line pid t
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  start=$EPOCHREALTIME
  "$@" </dev/null >"$fifo" 2>/dev/null &
  pid=$!
  t=""
  while IFS= read -r line; do
    if [[ -z $t && $line == *"VMMTEST: init started"* ]]; then
      t=$(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN { print a - b }')
    fi
    [[ $line == *"VMMTEST: sleeping"* ]] && break
  done <"$fifo"
  sleep 1
  local rss
  rss=$(rss_without_guest "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$fifo"
  echo "$t $rss"
}

run_series() {
  local name=$1
  shift
  for ((i = 1; i <= RUNS; i++)); do
    read -r t rss < <(measure "$@")
    printf '%-6s run %d: init after %6.2f s, RSS without guest RAM %6d kB\n' "$name" "$i" "$t" "$rss"
    echo "$name $t $rss" >>"$RESULTS"
  done
}

RESULTS=$(mktemp)
run_series vmm "$VMM" run --kernel "$KERNEL" --initrd "$INITRD" --memory ${MEM_MB}M \
  --cmdline "$CMDLINE"
run_series qemu qemu-system-x86_64 -enable-kvm -cpu host -m $MEM_MB -nodefaults -no-reboot \
  -display none -serial stdio -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"

echo
awk '
  { n[$1]++; t[$1] += $2; r[$1] += $3 }
  END {
    for (k in n) printf "%-6s mean: init after %.2f s, RSS without guest RAM %d kB\n", k, t[k] / n[k], r[k] / n[k]
    if (n["vmm"] && n["qemu"]) {
      printf "ratio vmm/qemu: boot time %.2f, memory %.2f\n", (t["vmm"] / n["vmm"]) / (t["qemu"] / n["qemu"]), (r["vmm"] / n["vmm"]) / (r["qemu"] / n["qemu"])
    }
  }' "$RESULTS"
rm -f "$RESULTS"
