#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, builds the
# release tree (warnings as errors), the ASan+UBSan tree and the libFuzzer tree, builds the guest
# test assets, then runs the KVM tests (in the nested sandbox when the host has no /dev/kvm) in
# the background while unit tests (both trees), fuzz targets (bounded), lint and container tests
# run beside them.
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

# Compiles are cached by their inputs (ccache, beside the guest assets): a rerun on the same
# machine rebuilds only what changed, whichever clone it builds.
export CCACHE_DIR=${CCACHE_DIR:-$VMM_CACHE_DIR/ccache} CCACHE_BASEDIR=$ROOT CCACHE_NOHASHDIR=1
launcher=()
if command -v ccache >/dev/null; then
  ccache --max-size=5G >/dev/null
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

step "build: release (warnings as errors)"
cmake -S . -B build -G Ninja -DVMM_WERROR=ON "${launcher[@]}" >/dev/null || die "configure failed"
ninja -C build -j"$JOBS" || die "build failed"

if has asan; then
  step "build: ASan+UBSan"
  cmake -S . -B build-asan -G Ninja -DVMM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug "${launcher[@]}" \
    >/dev/null ||
    die "configure (asan) failed"
  ninja -C build-asan -j"$JOBS" vmm vmm_unit_tests vmm_agent_tests || die "build (asan) failed"
fi
if has fuzz; then
  step "build: libFuzzer targets (clang)"
  cmake -S . -B build-fuzz -G Ninja -DVMM_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_COMPILER=clang "${launcher[@]}" >/dev/null || die "configure (fuzz) failed"
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
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# run_suite NAME DIR ARGS...: runs ctest, keeps its output in $logs/NAME.log and its counts
# (total, failures, exit status) in $logs/NAME.result.
run_suite() {
  local name=$1 dir=$2
  shift 2
  ctest --test-dir "$dir" --output-on-failure "$@" >"$logs/$name.log" 2>&1
  local rc=$?
  local total fails
  total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' \
    "$logs/$name.log" | tail -1)
  fails=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' \
    "$logs/$name.log" | tail -1)
  echo "${total:-none} ${fails:-0} $rc" >"$logs/$name.result"
}
# report NAME: prints a finished suite's output and adds its counts to the totals.
report() {
  local name=$1 total fails rc
  step "tests: $name"
  cat "$logs/$name.log"
  read -r total fails rc <"$logs/$name.result"
  if [[ $total == none ]]; then
    # ctest found nothing to run: that is a failure of the suite, never a silent pass.
    failed=$((failed + 1))
    failed_suites+=("$name(no tests ran)")
    return
  fi
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  if ((rc != 0)); then failed_suites+=("$name"); fi
}
# suite NAME DIR ARGS...: runs a suite in the foreground.
suite() {
  step "running: $1"
  run_suite "$@"
  report "$1"
}

# The KVM suite runs in a one-CPU sandbox VM (or on the host's /dev/kvm) and takes longest: it
# starts first, in the background, and the other suites share the remaining CPU at a lower
# priority. Its output is printed when it ends.
kvm_pid=
if has kvm; then
  step "started in the background: kvm (output follows at the end)"
  run_suite kvm build -L kvm &
  kvm_pid=$!
  renice -n 10 -p $$ >/dev/null
fi

has unit && suite unit build -L unit -j"$JOBS"
has asan && suite "unit-asan" build-asan -L unit -j"$JOBS"
has fuzz && suite fuzz build-fuzz -L fuzz -j"$JOBS"
has lint && suite lint build -L lint
has container && suite container build -L container
if [[ -n $kvm_pid ]]; then
  wait "$kvm_pid"
  report kvm
fi

step "summary"
((${#failed_suites[@]})) && echo "failed suites: ${failed_suites[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
