// Whether a job's attempt passed: exit status against expect_exit, timeouts, kernel panics on
// the console, KTAP subtests.
#include <gtest/gtest.h>

#include "farm/verdict.hpp"

namespace {

using vmm::farm::AttemptFacts;
using vmm::farm::JobKind;
using vmm::farm::JobSpec;
using vmm::farm::judge;
using vmm::farm::Outcome;

JobSpec vm_job(int expect = 0) {
  JobSpec s;
  s.name = "j";
  s.kind = JobKind::kVm;
  s.expect_exit = expect;
  s.timeout_seconds = 30;
  return s;
}

AttemptFacts exited(int status, std::string_view console = "") {
  AttemptFacts f;
  f.exit_status = status;
  f.console = console;
  return f;
}

TEST(FarmVerdict, ExitStatusAgainstExpectExit) {
  EXPECT_EQ(judge(vm_job(), exited(0)).outcome, Outcome::kPassed);
  const auto v = judge(vm_job(), exited(2));
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_EQ(v.reason, "exit status 2, expected 0");
  EXPECT_EQ(judge(vm_job(7), exited(7)).outcome, Outcome::kPassed);
}

TEST(FarmVerdict, AVmsDebugExitValueIsReadBack) {
  // The guest wrote 3 to port 0xf4: vmm exits (3 << 1) | 1 = 7.
  auto v = judge(vm_job(), exited(7));
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  ASSERT_TRUE(v.debug_exit_value.has_value());
  EXPECT_EQ(*v.debug_exit_value, 3U);
  EXPECT_EQ(v.reason, "exit status 7 (debug-exit value 3), expected 0");
  v = judge(vm_job(33), exited(33));
  EXPECT_EQ(v.outcome, Outcome::kPassed);
  EXPECT_EQ(v.debug_exit_value, 16U);
  // A container's status is its command's.
  auto box = vm_job();
  box.kind = JobKind::kContainer;
  EXPECT_FALSE(judge(box, exited(7)).debug_exit_value.has_value());
}

TEST(FarmVerdict, TimeoutIsItsOwnOutcome) {
  AttemptFacts f = exited(143);
  f.timed_out = true;
  const auto v = judge(vm_job(), f);
  EXPECT_EQ(v.outcome, Outcome::kTimedOut);
  EXPECT_EQ(v.reason, "timed out after 30 s");
  EXPECT_FALSE(v.exit_status.has_value());
}

TEST(FarmVerdict, AKernelPanicFailsWhateverTheStatus) {
  const auto v = judge(vm_job(4), exited(4, "[ 1.0] Kernel panic - not syncing: sysrq\n"));
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_TRUE(v.kernel_panic);
  EXPECT_EQ(v.reason, "kernel panic on the console, exit status 4 (guest kernel panic)");
}

TEST(FarmVerdict, KtapSubtestsDecide) {
  auto spec = vm_job();
  spec.ktap = true;
  auto v = judge(spec, exited(0, "KTAP version 1\n1..2\nok 1 a\nnot ok 2 b\n"));
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_EQ(v.reason, "1 of 2 KTAP subtests failed");
  EXPECT_EQ(v.ktap.cases.size(), 2U);
  v = judge(spec, exited(0, "no tests here\n"));
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_EQ(v.reason, "no KTAP/TAP output on the console");
  v = judge(spec, exited(0, "KTAP version 1\n1..3\nok 1 a\n"));
  EXPECT_EQ(v.reason, "KTAP: top level: planned 3, ran 1");
  EXPECT_EQ(judge(spec, exited(0, "TAP version 13\n1..1\nok 1 a\n")).outcome, Outcome::kPassed);
}

TEST(FarmVerdict, AChildThatCouldNotStartIsAnError) {
  AttemptFacts f;
  f.start_error = "cannot start /nonexistent: No such file or directory";
  const auto v = judge(vm_job(), f);
  EXPECT_EQ(v.outcome, Outcome::kError);
  EXPECT_EQ(v.reason, "could not start: cannot start /nonexistent: No such file or directory");
}

}  // namespace
