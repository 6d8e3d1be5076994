#!/bin/sh
# Runs the KVM tests in the sandbox (all arguments go to `vmm-sandbox run`), then sums up where
# the time went from $VMM_KVM_LOG_DIR/timeline.tsv (written by kvm_test_main.cpp as tests start
# and end): the time of each test suite, the slowest tests, and a test that never finished when
# the sandbox's time ran out. Exits with the sandbox's status.
sandbox="$(dirname "$0")/../sandbox/vmm-sandbox"
timeline="${VMM_KVM_LOG_DIR:-kvm-logs}/timeline.tsv"
rm -f "$timeline"
"$sandbox" run "$@"
status=$?
[ -s "$timeline" ] || exit "$status"
echo
echo "==== KVM test time (from $timeline)"
awk -F'\t' -v now="$(date +%s)" '
  $1 == "start" { started[$3] = $2; order[++n] = $3 }
  $1 == "end" { ms[$3] = $4; result[$3] = $5; split($3, p, "."); suite[p[1]] += $4 }
  END {
    for (s in suite) printf "suite %-28s %7.1f s\n", s, suite[s] / 1000 | "sort -k3 -rn"
    close("sort -k3 -rn")
    for (i = 1; i <= n; ++i) {
      t = order[i]
      if (t in ms) printf "test  %7.1f s  %-7s %s\n", ms[t] / 1000, result[t], t | "sort -k2 -rn | head -12"
    }
    close("sort -k2 -rn | head -12")
    for (i = 1; i <= n; ++i) {
      t = order[i]
      if (!(t in ms)) printf "UNFINISHED after %d s: %s\n", now - started[t], t
    }
  }' "$timeline"
exit "$status"
