#pragma once
// Reads KTAP (the kernel's test output: KUnit, kselftest) and TAP from a console log, with its
// nesting: a subtest's lines are indented under the result line that names it.
//
//   KTAP version 1
//   1..1
//       KTAP version 1
//       # Subtest: example
//       1..2
//       ok 1 example_simple_test
//       not ok 2 example_failing_test
//   not ok 1 example
//
// The output is its leaf cases, named by their path ("example.example_failing_test"), and the
// problems with the structure (a plan that the results do not meet, a suite without its result
// line). Lines that are neither a version, a plan, a result nor a "# Subtest:" header are
// ignored, as are result-like lines before the first version or plan line, so the rest of a
// console (boot messages) cannot add cases. printk timestamps ("[    1.234567] ") are skipped.
// Any input is accepted; the guest controls it.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vmm::farm {

enum class KtapStatus { kPass, kFail, kSkip };

struct KtapCase {
  std::string name;  // the path: "suite.subsuite.case"
  KtapStatus status = KtapStatus::kPass;
  std::string detail;  // the SKIP/TODO reason, or the failing result line
};

struct KtapResult {
  bool found = false;  // a version or plan line was seen
  std::vector<KtapCase> cases;
  std::vector<std::string> problems;  // each one fails the job

  [[nodiscard]] std::size_t count(KtapStatus status) const noexcept;
};

// At most this many cases are kept (more are counted as one problem): a guest cannot make the
// reports grow without bound.
inline constexpr std::size_t kMaxKtapCases = 100000;

[[nodiscard]] KtapResult parse_ktap(std::string_view text);

}  // namespace vmm::farm
