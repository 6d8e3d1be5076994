#!/bin/bash
# Runs the KVM tests in the sandbox (all arguments go to `vmm-sandbox run`), then sums up where
# the time went from $VMM_KVM_LOG_DIR/timeline.tsv (written by kvm_test_main.cpp as tests start
# and end): the time of each test suite, the slowest tests, and a test that never finished.
#
# When the sandbox itself stops responding (vmm-sandbox exits 126: its kernel no longer runs
# user space, so no test inside can end), the tests that had not finished run again in a fresh
# sandbox, up to three times, within what is left of --timeout. The test that was running each
# time is named loudly. Exits 1 if any test failed in any sandbox, else with the last sandbox's
# status (126 when the sandbox wedged a fourth time).
set -u
sandbox="$(dirname "$0")/../sandbox/vmm-sandbox"
timeline="${VMM_KVM_LOG_DIR:-kvm-logs}/timeline.tsv"
rm -f "$timeline"

args=("$@")
timeout=3600
for ((i = 0; i + 1 < ${#args[@]}; ++i)); do
  [[ ${args[i]} == --timeout ]] && timeout=${args[i + 1]}
  [[ ${args[i]} == -- ]] && break
done
started=$SECONDS

"$sandbox" run "${args[@]}"
status=$?

# The tests with an end in the timeline, as a gtest negative filter ("A.x:B.y").
finished_tests() { awk -F'\t' '$1 == "end" { printf "%s%s", sep, $3; sep = ":" }' "$timeline"; }
# The test that started last and never ended.
unfinished_test() {
  awk -F'\t' '$1 == "start" { t = $3 } $1 == "end" && $3 == t { t = "" } END { print t }' "$timeline"
}

# Each wedge costs one fresh sandbox, up to three, for what had not finished.
resumes=0
while ((status == 126 && resumes < 3)) && [[ -s $timeline ]]; do
  resumes=$((resumes + 1))
  stalled_in=$(unfinished_test)
  left=$((timeout - (SECONDS - started)))
  echo
  echo "**** the sandbox stopped responding during ${stalled_in:-(no test)}"
  if ((left < 120)); then
    echo "**** too little time left (${left}s) to run the remaining tests in a fresh sandbox"
    break
  fi
  echo "**** running the tests that had not finished in fresh sandbox $resumes of 3 (${left}s left)"
  # The base filter: a --gtest_filter among the command's arguments, else $GTEST_FILTER.
  base=${GTEST_FILTER:-*}
  for a in "${args[@]}"; do [[ $a == --gtest_filter=* ]] && base=${a#--gtest_filter=}; done
  done_tests=$(finished_tests)
  filter=$base
  if [[ -n $done_tests ]]; then
    if [[ $base == *-* ]]; then filter+=":$done_tests"; else filter+="-$done_tests"; fi
  fi
  for ((i = 0; i < ${#args[@]}; ++i)); do
    [[ ${args[i]} == --timeout ]] && args[i + 1]=$left
  done
  "$sandbox" run "${args[@]}" "--gtest_filter=$filter"
  status=$?
done

[ -s "$timeline" ] || exit "$status"
echo
echo "==== KVM test time (from $timeline)"
awk -F'\t' -v now="$(date +%s)" '
  $1 == "start" { if (!($3 in started)) order[++n] = $3; started[$3] = $2; delete ms[$3] }
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
if ((status == 0)) && grep -q $'^end\t.*\tfailed$' "$timeline"; then
  echo "a test failed in an earlier sandbox"
  status=1
fi
exit "$status"
