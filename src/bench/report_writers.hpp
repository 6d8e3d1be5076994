#pragma once
// The outputs of a benchmark report: a table for a terminal, JSON, CSV and an SVG chart. Every
// number goes through format_number(), so the four agree to the digit.
#include <nlohmann/json.hpp>
#include <string>

#include "bench/scenario.hpp"

namespace vmm::bench {

// Whether every metric is a rate (MB/s, IOPS), so that higher is better: the I/O benchmarks.
[[nodiscard]] bool rates_only(const Report& report);

[[nodiscard]] std::string report_table(const Report& report);
[[nodiscard]] nlohmann::json report_json(const Report& report);
[[nodiscard]] std::string report_csv(const Report& report);
// Time on a log axis, one row per scenario: min-max whiskers, the p95 and median marked, the
// median written beside it; skipped and failed scenarios say why.
[[nodiscard]] std::string report_svg(const Report& report);
// A report back from report_json()'s output, to write its table, CSV or chart again. Throws
// vmm::ConfigError when the document is not such a report.
[[nodiscard]] Report report_from_json(const nlohmann::json& j);

}  // namespace vmm::bench
