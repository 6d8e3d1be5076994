#!/usr/bin/env bash
# Boots a demo guest: Debian's stock kernel with the test initramfs, whose init prints what it
# sees (CPUs, memory, date) and reboots, so vmm exits 0. Runs vmm directly when this host has a
# hardware-backed /dev/kvm, otherwise inside the nested-KVM sandbox (tests/sandbox/vmm-sandbox).
#
#   firmware/demo.sh [--cpus N] [--memory SIZE]     (after building into ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/vmm ]] || { echo "demo: build/vmm not found; build first (see README.md)" >&2; exit 2; }
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
firmware/fetch-debian-kernel.sh >/dev/null
firmware/build-test-initramfs.sh >/dev/null
tests/sandbox/vmm-sandbox prepare >/dev/null
echo "demo: booting Debian's kernel under vmm (the sandbox is used when the host lacks KVM)" >&2
exec tests/sandbox/vmm-sandbox run --timeout 600 -- build/vmm run \
  --kernel "$CACHE/kernel/bzImage" --initrd "$CACHE/test-initramfs.cpio.gz" \
  --cmdline "console=ttyS0 reboot=k panic=-1 quiet pci=noearly vmmtest=default" --cpus 2 --memory 512M "$@"
