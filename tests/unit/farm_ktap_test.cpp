// KTAP/TAP from a console: nesting, ok/not ok, SKIP, plans, and everything else ignored.
#include <gtest/gtest.h>

#include <string>

#include "farm/ktap.hpp"

namespace {

using vmm::farm::KtapStatus;
using vmm::farm::parse_ktap;

TEST(FarmKtap, NestedKunitSuitesWithPrintkTimestamps) {
  const auto r = parse_ktap(
      "[    0.100000] Booting the kernel\n"
      "[    0.200000] KTAP version 1\n"
      "[    0.200001] 1..2\n"
      "[    0.200002]     KTAP version 1\n"
      "[    0.200003]     # Subtest: example\n"
      "[    0.200004]     1..3\n"
      "[    0.200005]     ok 1 example_simple_test\n"
      "[    0.200006]     # example_failing_test: EXPECTATION FAILED at lib/example.c:42\n"
      "[    0.200007]     not ok 2 example_failing_test\n"
      "[    0.200008]     ok 3 example_skip_test # SKIP this test should be skipped\n"
      "[    0.200009] # example: pass:1 fail:1 skip:1 total:3\n"
      "[    0.200010] not ok 1 example\n"
      "[    0.200011]     KTAP version 1\n"
      "[    0.200012]     # Subtest: other\n"
      "[    0.200013]     1..1\n"
      "[    0.200014]     ok 1 other_test\n"
      "[    0.200015] ok 2 other\n");
  EXPECT_TRUE(r.found);
  ASSERT_EQ(r.cases.size(), 4U);
  EXPECT_EQ(r.cases[0].name, "example.example_simple_test");
  EXPECT_EQ(r.cases[0].status, KtapStatus::kPass);
  EXPECT_EQ(r.cases[1].name, "example.example_failing_test");
  EXPECT_EQ(r.cases[1].status, KtapStatus::kFail);
  EXPECT_EQ(r.cases[1].detail, "not ok 2 example_failing_test");
  EXPECT_EQ(r.cases[2].name, "example.example_skip_test");
  EXPECT_EQ(r.cases[2].status, KtapStatus::kSkip);
  EXPECT_EQ(r.cases[2].detail, "this test should be skipped");
  EXPECT_EQ(r.cases[3].name, "other.other_test");
  EXPECT_EQ(r.count(KtapStatus::kPass), 2U);
  EXPECT_EQ(r.count(KtapStatus::kFail), 1U);
  EXPECT_EQ(r.count(KtapStatus::kSkip), 1U);
  EXPECT_TRUE(r.problems.empty()) << r.problems.front();
}

TEST(FarmKtap, PlainTapWithDashesTodoAndDirectivesInAnyCase) {
  const auto r = parse_ktap(
      "TAP version 13\r\n1..4\r\nok 1 - first\r\nnot ok 2 - second # todo not yet\r\n"
      "ok 3 # skip no device\r\nnot ok 4 - fourth\r\n");
  ASSERT_EQ(r.cases.size(), 4U);
  EXPECT_EQ(r.cases[0].name, "first");
  EXPECT_EQ(r.cases[1].status, KtapStatus::kSkip);  // TODO: not a failure
  EXPECT_EQ(r.cases[1].detail, "todo not yet");
  EXPECT_EQ(r.cases[2].name, "test 3");
  EXPECT_EQ(r.cases[2].status, KtapStatus::kSkip);
  EXPECT_EQ(r.cases[2].detail, "no device");
  EXPECT_EQ(r.cases[3].status, KtapStatus::kFail);
  EXPECT_TRUE(r.problems.empty());
}

TEST(FarmKtap, GarbageAndResultsBeforeAnyHeaderAreIgnored) {
  const auto r = parse_ktap(
      "ok 1 this is boot noise\nnot ok 7 nor is this\n"
      "KTAP version 1\n1..1\nokay this is not a result\nnot okay either\n\x01\xff\xfe junk\n"
      "ok\n");
  EXPECT_TRUE(r.found);
  ASSERT_EQ(r.cases.size(), 1U);
  EXPECT_EQ(r.cases[0].name, "test");
  EXPECT_EQ(r.cases[0].status, KtapStatus::kPass);
}

TEST(FarmKtap, NoHeaderMeansNotFound) {
  const auto r = parse_ktap("Linux version 6.1\nok 1 nothing\n");
  EXPECT_FALSE(r.found);
  EXPECT_TRUE(r.cases.empty());
}

TEST(FarmKtap, PlansThatResultsDoNotMeetAreProblems) {
  const auto r = parse_ktap("KTAP version 1\n1..3\nok 1 a\nok 2 b\n");
  ASSERT_EQ(r.problems.size(), 1U);
  EXPECT_EQ(r.problems[0], "top level: planned 3, ran 2");
  const auto nested =
      parse_ktap("KTAP version 1\n1..1\n    # Subtest: s\n    1..2\n    ok 1 x\nok 1 s\n");
  ASSERT_EQ(nested.problems.size(), 1U);
  EXPECT_EQ(nested.problems[0], "s: planned 2, ran 1");
}

TEST(FarmKtap, ASuiteCutShortFailsWithItsCases) {
  // The kernel died inside the suite: its result line never came.
  const auto r = parse_ktap(
      "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: crashy\n    1..2\n"
      "    ok 1 first\n");
  ASSERT_EQ(r.cases.size(), 2U);
  EXPECT_EQ(r.cases[0].name, "crashy.first");
  EXPECT_EQ(r.cases[0].status, KtapStatus::kPass);
  EXPECT_EQ(r.cases[1].name, "crashy");
  EXPECT_EQ(r.cases[1].status, KtapStatus::kFail);
  EXPECT_EQ(r.cases[1].detail, "no result line (incomplete)");
  // Two problems: the missing result line and the suite's unmet plan.
  ASSERT_FALSE(r.problems.empty());
  bool missing_result = false;
  for (const auto& p : r.problems) missing_result |= p == "crashy: no result line";
  EXPECT_TRUE(missing_result);
}

TEST(FarmKtap, AFailingSuiteWithoutFailingCasesIsACaseOfItsOwn) {
  const auto r =
      parse_ktap("KTAP version 1\n1..1\n    # Subtest: s\n    1..1\n    ok 1 x\nnot ok 1 s\n");
  ASSERT_EQ(r.cases.size(), 2U);
  EXPECT_EQ(r.cases[0].name, "s.x");
  EXPECT_EQ(r.cases[1].name, "s");
  EXPECT_EQ(r.cases[1].status, KtapStatus::kFail);
}

TEST(FarmKtap, ThreeLevels) {
  const auto r = parse_ktap(
      "KTAP version 1\n1..1\n"
      "    KTAP version 1\n    # Subtest: outer\n    1..1\n"
      "        KTAP version 1\n        # Subtest: inner\n        1..2\n"
      "        ok 1 a\n        not ok 2 b\n"
      "    not ok 1 inner\n"
      "not ok 1 outer\n");
  ASSERT_EQ(r.cases.size(), 2U);
  EXPECT_EQ(r.cases[0].name, "outer.inner.a");
  EXPECT_EQ(r.cases[1].name, "outer.inner.b");
  EXPECT_EQ(r.cases[1].status, KtapStatus::kFail);
  EXPECT_TRUE(r.problems.empty());
}

TEST(FarmKtap, DeepNestingIsBounded) {
  std::string text = "KTAP version 1\n";
  for (int i = 0; i < 500; ++i) text += std::string(static_cast<std::size_t>(i), ' ') + "1..1\n";
  for (int i = 499; i >= 0; --i) text += std::string(static_cast<std::size_t>(i), ' ') + "ok 1 t\n";
  const auto r = parse_ktap(text);
  EXPECT_TRUE(r.found);
  EXPECT_FALSE(r.cases.empty());
}

}  // namespace
