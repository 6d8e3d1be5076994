#pragma once
// The test cases every report shows, in one order, so JUnit, TAP and JSON agree: per job, the
// job itself (named by the job; it fails with the verdict's reason) and then, for a KTAP job,
// each of its KTAP cases (named by their path, classname JOB.ktap).
#include <cstddef>
#include <string>
#include <vector>

#include "farm/job_result.hpp"

namespace vmm::farm {

enum class CaseStatus { kPassed, kFailed, kError, kSkipped };

struct ReportCase {
  std::string name;
  std::string classname;
  bool is_job = false;  // the job's own case, not one of its KTAP cases
  CaseStatus status = CaseStatus::kPassed;
  std::string type;     // failures and errors: exit-status, kernel-panic, ktap, timeout, start
  std::string message;  // one line
  double seconds = 0;
  std::string output;  // the job case's system-out: attempts, the log's path, its tail
};

struct CaseTotals {
  std::size_t tests = 0;
  std::size_t failures = 0;
  std::size_t errors = 0;
  std::size_t skipped = 0;
};

[[nodiscard]] std::vector<ReportCase> report_cases(const JobResult& job);
[[nodiscard]] CaseTotals totals(const std::vector<ReportCase>& cases) noexcept;
[[nodiscard]] CaseTotals totals(const FarmReport& report);

}  // namespace vmm::farm
