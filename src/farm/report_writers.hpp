#pragma once
// The reports of a farm run, all written from report_cases.hpp so that they agree: JUnit XML
// (Jenkins' and GitLab's schema, tests/farm/junit.xsd), TAP version 13, JSON, and the summary
// table shown at the end of a run.
#include <nlohmann/json.hpp>
#include <string>

#include "farm/job_result.hpp"

namespace vmm::farm {

// <testsuites> with one <testsuite> per job; console text is made valid XML 1.0 (control
// characters and bytes that are not UTF-8 are replaced).
[[nodiscard]] std::string junit_xml(const FarmReport& report);
// One test point per case, in report_cases order; failures carry a YAML block.
[[nodiscard]] std::string tap_text(const FarmReport& report);
[[nodiscard]] nlohmann::json report_json(const FarmReport& report);
// Job, kind, outcome, attempts, time and reason, then the totals.
[[nodiscard]] std::string summary_table(const FarmReport& report);

}  // namespace vmm::farm
