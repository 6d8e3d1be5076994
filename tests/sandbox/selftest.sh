#!/bin/bash
# Checks the sandbox itself, independent of vmm: command output and exit status come back,
# the read-write share and --env work, --timeout gives 124, and /dev/kvm inside really runs a
# guest: QEMU/KVM boots the stock kernel with the test initramfs (debug exit 3 -> status 7).
# Always boots the sandbox (--force-sandbox). Prints the measured times.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SANDBOX=$HERE/vmm-sandbox
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

scratch=$(mktemp -d "${VMM_SELFTEST_DIR:-$PWD}/.sandbox-selftest.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

"$HERE/../../firmware/build-test-initramfs.sh" >/dev/null
"$SANDBOX" prepare

# 1. Output, exit status, cwd, env, rw share; also the time of a bare sandbox round trip.
start=$(date +%s.%N)
rc=0
out=$(cd "$scratch" && "$SANDBOX" run --force-sandbox --share-rw "$scratch" --env SELFTEST_K="a b'c" \
  -- sh -c 'echo "hi $SELFTEST_K"; pwd; test -c /dev/kvm && echo kvm; echo written >file; exit 3') || rc=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
[[ $rc == 3 ]] && pass "exit status 3 came back" || fail "exit status $rc, expected 3"
grep -qx "hi a b'c" <<<"$out" && pass "output and --env came back" || fail "output was: $out"
grep -qx "$(cd "$scratch" && pwd -P)" <<<"$out" && pass "same working directory" || fail "cwd: $out"
grep -qx kvm <<<"$out" && pass "/dev/kvm present" || fail "no /dev/kvm in: $out"
[[ $(cat "$scratch/file" 2>/dev/null) == written ]] && pass "rw share written" || fail "rw share not written"
echo "time: sandbox round trip (boot, command, power off) ${elapsed}s"

# 2. Timeout.
rc=0
"$SANDBOX" run --force-sandbox --timeout 30 --share-rw "$scratch" -- sleep 600 || rc=$?
[[ $rc == 124 ]] && pass "--timeout gives 124" || fail "--timeout gave $rc"

# 3. Nested KVM: the test guest under QEMU/KVM inside the sandbox, timed to its init marker.
cat >"$scratch/l2.sh" <<L2
start=\$(date +%s.%N)
qemu-system-x86_64 -enable-kvm -cpu host -m 256 -smp 1 -nodefaults -no-reboot -display none \
  -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel '$CACHE/kernel/bzImage' -initrd '$CACHE/test-initramfs.cpio.gz' \
  -append 'console=ttyS0 quiet reboot=k panic=-1 vmmtest=debugexit=3' </dev/null |
  while IFS= read -r line; do
    echo "\$line"
    case \$line in *"VMMTEST: init started"*)
      echo "time: L2 QEMU/KVM boot to init marker \$(echo "\$(date +%s.%N) - \$start" | bc)s";;
    esac
  done
exit \${PIPESTATUS[0]}
L2
rc=0
out=$("$SANDBOX" run --force-sandbox --timeout 600 --share-rw "$scratch" -- bash "$scratch/l2.sh") || rc=$?
echo "$out" | grep -E '^(time|VMMTEST)' || true
[[ $rc == 7 ]] && pass "L2 guest debug exit 3 gave 7" || fail "L2 guest gave $rc, expected 7"
grep -q "VMMTEST: memtotal_kb=" <<<"$out" && pass "L2 guest printed its markers" || fail "L2 output: $out"

((failures == 0)) || { echo "$failures sandbox check(s) failed" >&2; exit 1; }
echo "sandbox self-test passed"
