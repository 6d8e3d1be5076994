// TAP version 13: one test point per case of report_cases.hpp, so its counts are the JUnit
// report's; a failure's YAML block says why.
#include <sstream>

#include "farm/printable_text.hpp"
#include "farm/report_cases.hpp"
#include "farm/report_writers.hpp"

namespace vmm::farm {
namespace {

// A description may not carry '#' (it would start a directive) or a newline.
std::string description(const std::string& text) {
  std::string out = printable_text(text);
  for (char& c : out) {
    if (c == '#' || c == '\n' || c == '\t') c = ' ';
  }
  return out;
}

// A YAML double-quoted scalar.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : printable_text(text)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string tap_text(const FarmReport& report) {
  std::vector<std::pair<const JobResult*, ReportCase>> points;
  for (const auto& job : report.jobs) {
    for (auto& c : report_cases(job)) points.emplace_back(&job, std::move(c));
  }
  std::ostringstream out;
  out << "TAP version 13\n1.." << points.size() << '\n';
  std::size_t n = 0;
  for (const auto& [job, c] : points) {
    ++n;
    const bool ok = c.status == CaseStatus::kPassed || c.status == CaseStatus::kSkipped;
    const std::string name = c.is_job ? c.name : job->spec.name + ": " + c.name;
    out << (ok ? "ok " : "not ok ") << n << " - " << description(name);
    if (c.status == CaseStatus::kSkipped) {
      out << " # SKIP" << (c.message.empty() ? "" : " ") << description(c.message);
    }
    out << '\n';
    if (c.status == CaseStatus::kFailed || c.status == CaseStatus::kError) {
      out << "  ---\n  message: " << quoted(c.message)
          << "\n  severity: " << (c.status == CaseStatus::kError ? "error" : "fail")
          << "\n  type: " << c.type << '\n';
      if (c.is_job) {
        out << "  outcome: " << to_string(job->verdict.outcome) << "\n  attempts: " << job->attempts
            << '\n';
        if (job->verdict.exit_status) out << "  exit_status: " << *job->verdict.exit_status << '\n';
        out << "  log: " << quoted(job->log.string()) << '\n';
      }
      out << "  ...\n";
    } else if (c.is_job && job->verdict.outcome == Outcome::kFlaky) {
      out << "# " << description(job->spec.name) << " passed on attempt " << job->attempts
          << " (flaky)\n";
    }
  }
  return out.str();
}

}  // namespace vmm::farm
