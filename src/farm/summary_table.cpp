// The table a run ends with: one row per job, then the totals.
#include <algorithm>
#include <cstdio>

#include "farm/printable_text.hpp"
#include "farm/report_cases.hpp"
#include "farm/report_writers.hpp"

namespace vmm::farm {

std::string summary_table(const FarmReport& report) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"JOB", "KIND", "RESULT", "ATTEMPTS", "TIME", "REASON"});
  std::size_t failed = 0;
  std::size_t flaky = 0;
  for (const auto& job : report.jobs) {
    char time[32];
    std::snprintf(time, sizeof time, "%.1fs", job.seconds);
    if (!passed(job.verdict.outcome)) ++failed;
    if (job.verdict.outcome == Outcome::kFlaky) ++flaky;
    rows.push_back({job.spec.name, to_string(job.spec.kind), to_string(job.verdict.outcome),
                    std::to_string(job.attempts), time, printable_text(job.verdict.reason)});
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  const auto t = totals(report);
  char footer[256];
  std::snprintf(footer, sizeof footer,
                "%zu jobs: %zu passed (%zu flaky), %zu failed in %.1fs; %zu test cases: %zu "
                "failures, %zu errors, %zu skipped\n",
                report.jobs.size(), report.jobs.size() - failed, flaky, failed, report.wall_seconds,
                t.tests, t.failures, t.errors, t.skipped);
  return out + footer;
}

}  // namespace vmm::farm
