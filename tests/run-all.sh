#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, builds the
# release tree (warnings as errors), the ASan+UBSan tree and the libFuzzer tree, builds the guest
# test assets, then runs unit tests (both trees), fuzz targets (bounded), lint, container tests
# and the KVM tests (in the nested sandbox when the host has no /dev/kvm).
#
#   sudo tests/run-all.sh            # everything
#   VMM_SUITES="unit lint" tests/run-all.sh   # a subset: unit asan fuzz lint container kvm
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUITES=${VMM_SUITES:-"unit asan fuzz lint container kvm"}
JOBS=${VMM_JOBS:-$(nproc)}
export VMM_CACHE_DIR=${VMM_CACHE_DIR:-$HOME/.cache/vmm}

has() { [[ " $SUITES " == *" $1 "* ]]; }
step() { printf '\n==== %s\n' "$*"; }
die() { echo "run-all: $*" >&2; exit 1; }

step "dependencies"
tests/install-deps.sh || die "installing dependencies failed"

step "build: release (warnings as errors)"
cmake -S . -B build -G Ninja -DVMM_WERROR=ON >/dev/null || die "configure failed"
ninja -C build -j"$JOBS" || die "build failed"

if has asan; then
  step "build: ASan+UBSan"
  cmake -S . -B build-asan -G Ninja -DVMM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null ||
    die "configure (asan) failed"
  ninja -C build-asan -j"$JOBS" vmm vmm_unit_tests || die "build (asan) failed"
fi
if has fuzz; then
  step "build: libFuzzer targets (clang)"
  cmake -S . -B build-fuzz -G Ninja -DVMM_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_COMPILER=clang >/dev/null || die "configure (fuzz) failed"
  ninja -C build-fuzz -j"$JOBS" || die "build (fuzz) failed"
fi
if has kvm || has unit; then
  step "guest test assets"
  firmware/fetch-debian-kernel.sh >/dev/null || die "fetching the Debian kernel failed"
  firmware/build-test-initramfs.sh >/dev/null || die "building the test initramfs failed"
  firmware/build-rootfs-initramfs.sh >/dev/null || die "building the root-on-disk initramfs failed"
  firmware/build-test-rootfs.sh >/dev/null || die "building the test root file system failed"
  firmware/build-minimal-kernel.sh >/dev/null || die "building the minimal guest kernel failed"
fi

passed=0
failed=0
failed_suites=()
# ctest_suite NAME DIR ARGS...: runs ctest and adds its counts to the totals.
ctest_suite() {
  local name=$1 dir=$2
  shift 2
  step "tests: $name"
  local log
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local total fails
  total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
  fails=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  rm -f "$log"
  if [[ -z "$total" ]]; then
    # ctest found nothing to run: that is a failure of the suite, never a silent pass.
    failed=$((failed + 1))
    failed_suites+=("$name(no tests ran)")
    return
  fi
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  if ((rc != 0)); then failed_suites+=("$name"); fi
}

has unit && ctest_suite unit build -L unit -j"$JOBS"
has asan && ctest_suite "unit (ASan+UBSan)" build-asan -L unit -j"$JOBS"
has fuzz && ctest_suite fuzz build-fuzz -L fuzz
has lint && ctest_suite lint build -L lint
has container && ctest_suite container build -L container
has kvm && ctest_suite kvm build -L kvm

step "summary"
((${#failed_suites[@]})) && echo "failed suites: ${failed_suites[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
