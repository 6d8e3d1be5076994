#!/bin/bash
# Checks that a wedged sandbox does not take the KVM suite down with it. A stand-in for the test
# binary records one finished test and one started test in the timeline, then stops the
# sandbox's heartbeat (as a kernel that no longer schedules user space would). Expected:
# vmm-sandbox notices within --stall and exits 126; run-suite.sh names the test that was
# running and runs it, and only it, in a fresh sandbox; the suite's status is that run's.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scratch=$(mktemp -d "${VMM_SELFTEST_DIR:-$PWD}/.run-suite-resume.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

cat >"$scratch/fake-tests.sh" <<'FAKE'
#!/bin/bash
# $1: the timeline; $2 (only in the fresh sandbox): the --gtest_filter run-suite.sh adds.
t=$(date +%s)
if [[ $# == 1 ]]; then
  printf 'start\t%s\tFirst.passes\nend\t%s\tFirst.passes\t10\tpassed\n' "$t" "$t" >>"$1"
  printf 'start\t%s\tSecond.wedges\n' "$t" >>"$1"
  echo "first sandbox: stopping the heartbeat"
  pkill -STOP -f vmm-sandbox-heartbeat || { echo "no heartbeat process found"; exit 3; }
  sleep 600
  exit 4
fi
echo "fresh sandbox: $2"
[[ $2 == "--gtest_filter=*-First.passes" ]] || exit 5
printf 'start\t%s\tSecond.wedges\nend\t%s\tSecond.wedges\t20\tpassed\n' "$t" "$t" >>"$1"
exit 0
FAKE

rc=0
out=$(VMM_KVM_LOG_DIR=$scratch "$HERE/run-suite.sh" --force-sandbox --timeout 900 --stall 30 \
  --share-rw "$scratch" -- bash "$scratch/fake-tests.sh" "$scratch/timeline.tsv" 2>&1) || rc=$?
echo "$out"
[[ $rc == 0 ]] && pass "the suite's status is the fresh sandbox's (0)" || fail "status $rc"
grep -q "vmm-sandbox: the sandbox stopped responding (no heartbeat for" <<<"$out" &&
  pass "vmm-sandbox noticed the missing heartbeat" || fail "no stall reported"
grep -q "stopped responding during Second.wedges" <<<"$out" &&
  pass "the running test is named" || fail "the running test is not named"
grep -qx "fresh sandbox: --gtest_filter=\*-First.passes" <<<"$out" &&
  pass "only the unfinished test ran again" || fail "the fresh sandbox got the wrong filter"
grep -q "UNFINISHED" <<<"$out" && fail "a test is reported unfinished" || pass "no test left unfinished"

((failures == 0)) || { echo "$failures check(s) failed" >&2; exit 1; }
echo "run-suite resume test passed"
