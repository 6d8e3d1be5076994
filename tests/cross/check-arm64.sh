#!/bin/bash
# Compiles the code vmm builds only for arm64 hosts (the KVM layer with its arm64 ioctls, the
# arm64 arch code with its KVM calls, the arm64 platform devices and the device manager over the
# arm64 layout, the PL031 model) with Debian's aarch64 cross compiler,
# against arm64's <linux/kvm.h>, with the project's warnings as errors. It checks that the
# code builds for arm64, including static checks of register ids against the kernel's headers;
# it runs nothing. Usage: tests/cross/check-arm64.sh [OUT_DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CXX=${VMM_ARM64_CXX:-aarch64-linux-gnu-g++}
command -v "$CXX" >/dev/null || {
  echo "check-arm64: $CXX not found (apt-get install g++-aarch64-linux-gnu)" >&2
  exit 1
}
out=${1:-$(mktemp -d)}
mkdir -p "$out/include"
# Header-only libraries and libfdt's headers are the same on every architecture; link them in
# one by one so that the cross compiler never sees the host's own C library headers.
for h in fmt spdlog libfdt.h fdt.h libfdt_env.h; do
  [[ -e /usr/include/$h ]] || { echo "check-arm64: /usr/include/$h missing" >&2; exit 1; }
  ln -sfn "/usr/include/$h" "$out/include/$h"
done

sources=(
  "$ROOT"/src/kvm/*.cpp
  "$ROOT"/src/arch/aarch64/*.cpp
  "$ROOT"/src/arch/aarch64/kvm/*.cpp
  "$ROOT"/devices/legacy/pl031_rtc.cpp
  "$ROOT"/src/vmm/device_manager.cpp
)
flags=(-std=c++20 -O1 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual -Werror
  -DSPDLOG_FMT_EXTERNAL -DFMT_HEADER_ONLY
  -I"$ROOT/include" -I"$ROOT/src" -I"$ROOT" -isystem "$out/include")
failed=0
for src in "${sources[@]}"; do
  obj=$out/$(basename "${src%.cpp}").o
  if "$CXX" "${flags[@]}" -c "$src" -o "$obj"; then
    echo "ok: ${src#"$ROOT"/}"
  else
    echo "FAIL: ${src#"$ROOT"/} does not build for arm64" >&2
    failed=$((failed + 1))
  fi
done
file "$out"/vcpu_setup.o | grep -q "ARM aarch64" || { echo "FAIL: not an arm64 object" >&2; exit 1; }
((failed == 0)) || exit 1
echo "check-arm64: ${#sources[@]} files build for arm64"
