#!/usr/bin/env bash
# `vmm bench net` with its guest assets built, where VMs run: inside the nested sandbox when
# this host's /dev/kvm cannot boot a stock kernel (directly otherwise). TCP throughput over a
# TAP, guest to host and back: vmm against QEMU, both without and both with vhost-net, and
# `vmm run --jail` against plain vmm.
# Writes build/bench/net.{json,csv,svg} and prints the table; see `vmm bench net --help`.
#
#   tests/bench/net-bench.sh [ARGS...]      e.g. --runs 5 --scenarios vmm-net,qemu-net
#
# Inside the sandbox every guest instruction is emulated (QEMU TCG): absolute figures are far
# below a real host's, the vmm/QEMU ratios are what to read. Environment: VMM_BIN (default
# build/vmm), VMM_CACHE_DIR (default ~/.cache/vmm).
set -euo pipefail
cd "$(dirname "$0")/../.."
export VMM_CACHE_DIR=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
VMM=${VMM_BIN:-$PWD/build/vmm}
[[ -x $VMM ]] || { echo "net-bench.sh: $VMM not built (ninja -C build)" >&2; exit 2; }
command -v iperf3 >/dev/null || { echo "net-bench.sh: no iperf3 (apt-get install iperf3)" >&2; exit 2; }
firmware/fetch-debian-kernel.sh >/dev/null
firmware/build-rootfs-initramfs.sh >/dev/null
firmware/build-test-rootfs.sh >/dev/null
mkdir -p build/bench
exec tests/sandbox/vmm-sandbox run --timeout 7200 --memory 3072 --share-rw "$PWD/build" -- \
  "$VMM" bench net --out "$PWD/build/bench" "$@"
