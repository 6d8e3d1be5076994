// The run as JSON: totals over the same cases as JUnit and TAP, and each job with its verdict.
#include "farm/printable_text.hpp"
#include "farm/report_cases.hpp"
#include "farm/report_writers.hpp"

namespace vmm::farm {
namespace {

const char* status_name(CaseStatus s) {
  switch (s) {
    case CaseStatus::kFailed:
      return "failed";
    case CaseStatus::kError:
      return "error";
    case CaseStatus::kSkipped:
      return "skipped";
    case CaseStatus::kPassed:
      break;
  }
  return "passed";
}

}  // namespace

nlohmann::json report_json(const FarmReport& report) {
  const auto all = totals(report);
  nlohmann::json j;
  j["name"] = printable_text(report.name);
  j["timestamp"] = report.timestamp;
  j["hostname"] = printable_text(report.hostname);
  j["wall_seconds"] = report.wall_seconds;
  j["totals"] = {{"tests", all.tests},
                 {"failures", all.failures},
                 {"errors", all.errors},
                 {"skipped", all.skipped}};
  std::size_t jobs_passed = 0;
  std::size_t jobs_flaky = 0;
  auto jobs = nlohmann::json::array();
  for (const auto& job : report.jobs) {
    if (passed(job.verdict.outcome)) ++jobs_passed;
    if (job.verdict.outcome == Outcome::kFlaky) ++jobs_flaky;
    nlohmann::json jj;
    jj["name"] = job.spec.name;
    jj["kind"] = to_string(job.spec.kind);
    jj["outcome"] = to_string(job.verdict.outcome);
    jj["reason"] = printable_text(job.verdict.reason);
    jj["attempts"] = job.attempts;
    jj["seconds"] = job.seconds;
    jj["total_seconds"] = job.total_seconds;
    jj["expect_exit"] = job.spec.expect_exit;
    jj["exit_status"] = job.verdict.exit_status ? nlohmann::json(*job.verdict.exit_status)
                                                : nlohmann::json(nullptr);
    jj["debug_exit_value"] = job.verdict.debug_exit_value
                                 ? nlohmann::json(*job.verdict.debug_exit_value)
                                 : nlohmann::json(nullptr);
    jj["kernel_panic"] = job.verdict.kernel_panic;
    jj["log"] = printable_text(job.log.string());
    auto cases = nlohmann::json::array();
    for (const auto& c : report_cases(job)) {
      nlohmann::json jc = {{"name", printable_text(c.name)},
                           {"classname", printable_text(c.classname)},
                           {"status", status_name(c.status)},
                           {"seconds", c.seconds}};
      if (!c.type.empty()) jc["type"] = c.type;
      if (!c.message.empty()) jc["message"] = printable_text(c.message);
      cases.push_back(std::move(jc));
    }
    jj["cases"] = std::move(cases);
    if (job.spec.ktap) {
      const auto& k = job.verdict.ktap;
      jj["ktap"] = {{"found", k.found},
                    {"passed", k.count(KtapStatus::kPass)},
                    {"failed", k.count(KtapStatus::kFail)},
                    {"skipped", k.count(KtapStatus::kSkip)},
                    {"problems", k.problems}};
      for (auto& p : jj["ktap"]["problems"]) p = printable_text(p.get<std::string>());
    }
    jobs.push_back(std::move(jj));
  }
  j["jobs_total"] = report.jobs.size();
  j["jobs_passed"] = jobs_passed;
  j["jobs_flaky"] = jobs_flaky;
  j["jobs_failed"] = report.jobs.size() - jobs_passed;
  j["jobs"] = std::move(jobs);
  return j;
}

}  // namespace vmm::farm
