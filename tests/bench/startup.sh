#!/usr/bin/env bash
# `vmm bench startup` with its guest assets built, where VMs run: inside the nested sandbox when
# this host's /dev/kvm cannot boot a stock kernel (directly otherwise). Writes
# build/bench/startup.{json,csv,svg} and prints the table.
#
#   tests/bench/startup.sh [ARGS...]      e.g. --runs 20, --scenarios vmm-vm-minimal,floor
#
# Environment: VMM_BIN (default build/vmm), VMM_CACHE_DIR (default ~/.cache/vmm).
set -euo pipefail
cd "$(dirname "$0")/../.."
export VMM_CACHE_DIR=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
VMM=${VMM_BIN:-$PWD/build/vmm}
[[ -x $VMM ]] || { echo "startup.sh: $VMM not built (ninja -C build)" >&2; exit 2; }
firmware/fetch-debian-kernel.sh >/dev/null
firmware/build-test-initramfs.sh >/dev/null
firmware/build-minimal-kernel.sh >/dev/null
mkdir -p build/bench
exec tests/sandbox/vmm-sandbox run --timeout 3600 --memory 4096 --share-rw "$PWD/build" -- \
  "$VMM" bench startup --out "$PWD/build/bench" "$@"
