#!/bin/bash
# Start-to-exit latency of /bin/true in a container: `vmm container run`, `vmm oci run` and
# runc (Debian package) on the same busybox bundle. Prints median and p95 per runtime and the
# ratio to runc. A benchmark, not a test: run it as root on an otherwise idle machine.
#
#   tests/bench/container_startup.sh [VMM_BINARY] [RUNS]
#
# VMM_BINARY defaults to build/vmm when it knows `container`, else the container test driver.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
vmm=${1:-}
runs=${2:-50}
[ -n "$vmm" ] || vmm=$here/build/vmm
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
command -v runc >/dev/null || { echo "runc not installed (apt-get install runc)" >&2; exit 2; }

work=$(mktemp -d /tmp/vmm-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$here/firmware/build-busybox-rootfs.sh" --bundle "$work/bundle" >/dev/null
# Same bundle for every runtime: /bin/true, no terminal.
sed -i 's|"args": \["sh"\]|"args": ["/bin/true"]|' "$work/bundle/config.json"
grep -q '"/bin/true"' "$work/bundle/config.json"

now_us() { echo $(( $(date +%s%N) / 1000 )); }

measure() {  # name, then the command with {} for a unique id
  local name=$1; shift
  local out=$work/$name.txt
  : > "$out"
  for i in $(seq "$runs"); do
    local cmd=("${@//\{\}/bench-$name-$i}")
    local t0; t0=$(now_us)
    "${cmd[@]}" >/dev/null 2>&1 || { echo "$name run $i failed: ${cmd[*]}" >&2; exit 1; }
    echo $(( $(now_us) - t0 )) >> "$out"
  done
  sort -n "$out" -o "$out"
  local median p95
  median=$(awk -v n="$runs" 'NR == int((n + 1) / 2) {print}' "$out")
  p95=$(awk -v n="$runs" 'NR == int((n * 95 + 99) / 100) {print}' "$out")
  echo "$name $median $p95"
}

cd "$work/bundle"
results=$(
  measure vmm-container-run "$vmm" container run --rootfs "$work/bundle/rootfs" -- /bin/true
  measure vmm-oci-run "$vmm" oci --root "$work/vmm-state" run --bundle "$work/bundle" {}
  measure runc-run runc --root "$work/runc-state" run --bundle "$work/bundle" {}
  # The floor: the same namespaces and root, with nothing else (no cgroup, seccomp, mounts).
  measure floor unshare -fpmuin chroot "$work/bundle/rootfs" /bin/true
)
runc_median=$(awk '$1 == "runc-run" {print $2}' <<<"$results")
runc_p95=$(awk '$1 == "runc-run" {print $3}' <<<"$results")
floor_median=$(awk '$1 == "floor" {print $2}' <<<"$results")
printf '%-20s %12s %12s %14s %14s\n' runtime "median(ms)" "p95(ms)" "median/runc" "median/floor"
while read -r name median p95; do
  awk -v n="$name" -v m="$median" -v p="$p95" -v r="$runc_median" -v f="$floor_median" \
    'BEGIN { printf "%-20s %12.2f %12.2f %14.2f %14.2f\n", n, m / 1000, p / 1000, m / r, m / f }'
done <<<"$results"
echo "($runs runs each, $(nproc) CPUs, kernel $(uname -r); runc p95 $((runc_p95 / 1000)) ms)"
