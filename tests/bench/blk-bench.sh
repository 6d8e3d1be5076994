#!/usr/bin/env bash
# `vmm bench blk` with its guest assets built, where VMs run: inside the nested sandbox when
# this host's /dev/kvm cannot boot a stock kernel (directly otherwise). virtio-blk sequential
# MB/s and 4 KiB random-read IOPS at depth 1 and 32, vmm against QEMU with the same queue count
# and cache mode.
# Writes build/bench/blk.{json,csv,svg} and prints the table; see `vmm bench blk --help`.
#
#   tests/bench/blk-bench.sh [ARGS...]      e.g. --runs 5 --queues 2
#
# Inside the sandbox every guest instruction is emulated (QEMU TCG): absolute figures are far
# below a real host's, the vmm/QEMU ratios are what to read. Environment: VMM_BIN (default
# build/vmm), VMM_CACHE_DIR (default ~/.cache/vmm).
set -euo pipefail
cd "$(dirname "$0")/../.."
export VMM_CACHE_DIR=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
VMM=${VMM_BIN:-$PWD/build/vmm}
[[ -x $VMM ]] || { echo "blk-bench.sh: $VMM not built (ninja -C build)" >&2; exit 2; }
firmware/fetch-debian-kernel.sh >/dev/null
firmware/build-rootfs-initramfs.sh >/dev/null
firmware/build-test-rootfs.sh >/dev/null
mkdir -p build/bench
exec tests/sandbox/vmm-sandbox run --timeout 7200 --memory 3072 --share-rw "$PWD/build" -- \
  "$VMM" bench blk --out "$PWD/build/bench" "$@"
