#pragma once
// What became of a job: every report (summary table, JUnit, TAP, JSON) is written from these.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "farm/job_spec.hpp"
#include "farm/ktap.hpp"

namespace vmm::farm {

enum class Outcome {
  kPassed,
  kFlaky,     // failed, then passed on a retry
  kFailed,    // the exit status, a kernel panic or a KTAP subtest said so
  kTimedOut,  // the farm stopped it at its timeout
  kError,     // it could not be started
};

[[nodiscard]] constexpr const char* to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kPassed:
      return "passed";
    case Outcome::kFlaky:
      return "passed-flaky";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kTimedOut:
      return "timed-out";
    case Outcome::kError:
      break;
  }
  return "error";
}

[[nodiscard]] constexpr bool passed(Outcome outcome) noexcept {
  return outcome == Outcome::kPassed || outcome == Outcome::kFlaky;
}

// The judgement of one attempt (verdict.hpp).
struct Verdict {
  Outcome outcome = Outcome::kPassed;
  std::string reason;                        // one line; empty when it passed
  std::optional<int> exit_status;            // none when it timed out or never started
  std::optional<uint64_t> debug_exit_value;  // a VM's status (v << 1) | 1, read back
  bool kernel_panic = false;
  KtapResult ktap;
};

struct JobResult {
  JobSpec spec;
  Verdict verdict;           // of the last attempt
  unsigned attempts = 0;     // 1 + retries used
  double seconds = 0;        // the last attempt's wall time
  double total_seconds = 0;  // all attempts
  std::filesystem::path log;
  std::string log_tail;  // the end of the last attempt's console, for system-out
};

struct FarmReport {
  std::string name;       // the farm file's stem
  std::string timestamp;  // ISO 8601, UTC, when the run started
  std::string hostname;
  double wall_seconds = 0;
  std::vector<JobResult> jobs;
};

}  // namespace vmm::farm
