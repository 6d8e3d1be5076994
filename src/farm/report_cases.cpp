#include "farm/report_cases.hpp"

namespace vmm::farm {
namespace {

std::string failure_type(const JobResult& job) {
  const Verdict& v = job.verdict;
  switch (v.outcome) {
    case Outcome::kTimedOut:
      return "timeout";
    case Outcome::kError:
      return "start";
    default:
      break;
  }
  if (v.kernel_panic) return "kernel-panic";
  if (v.exit_status && *v.exit_status != job.spec.expect_exit) return "exit-status";
  return "ktap";
}

CaseStatus status_of(KtapStatus s) {
  switch (s) {
    case KtapStatus::kFail:
      return CaseStatus::kFailed;
    case KtapStatus::kSkip:
      return CaseStatus::kSkipped;
    case KtapStatus::kPass:
      break;
  }
  return CaseStatus::kPassed;
}

}  // namespace

std::vector<ReportCase> report_cases(const JobResult& job) {
  std::vector<ReportCase> cases;
  ReportCase self;
  self.name = job.spec.name;
  self.classname = std::string("farm.") + to_string(job.spec.kind);
  self.seconds = job.seconds;
  self.is_job = true;
  switch (job.verdict.outcome) {
    case Outcome::kPassed:
    case Outcome::kFlaky:
      self.status = CaseStatus::kPassed;
      break;
    case Outcome::kFailed:
      self.status = CaseStatus::kFailed;
      break;
    case Outcome::kTimedOut:
    case Outcome::kError:
      self.status = CaseStatus::kError;
      break;
  }
  if (self.status != CaseStatus::kPassed) {
    self.type = failure_type(job);
    self.message = job.verdict.reason;
  }
  self.output = "outcome: " + std::string(to_string(job.verdict.outcome)) +
                "\nattempts: " + std::to_string(job.attempts) + "\nlog: " + job.log.string() +
                "\n--- end of the console ---\n" + job.log_tail;
  cases.push_back(std::move(self));
  for (const auto& k : job.verdict.ktap.cases) {
    ReportCase c;
    c.name = k.name;
    c.classname = job.spec.name + ".ktap";
    c.status = status_of(k.status);
    if (c.status == CaseStatus::kFailed) c.type = "ktap";
    c.message = k.detail;
    cases.push_back(std::move(c));
  }
  return cases;
}

CaseTotals totals(const std::vector<ReportCase>& cases) noexcept {
  CaseTotals t;
  for (const auto& c : cases) {
    ++t.tests;
    if (c.status == CaseStatus::kFailed) ++t.failures;
    if (c.status == CaseStatus::kError) ++t.errors;
    if (c.status == CaseStatus::kSkipped) ++t.skipped;
  }
  return t;
}

CaseTotals totals(const FarmReport& report) {
  CaseTotals all;
  for (const auto& job : report.jobs) {
    const auto t = totals(report_cases(job));
    all.tests += t.tests;
    all.failures += t.failures;
    all.errors += t.errors;
    all.skipped += t.skipped;
  }
  return all;
}

}  // namespace vmm::farm
