#include "bench/report_writers.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "vmm/common/error.hpp"

namespace vmm::bench {
namespace {

std::string reason_of(const ScenarioResult& r) {
  if (r.scenario.skipped) return *r.scenario.skipped;
  if (r.samples.empty() && !r.failures.empty()) return r.failures.front();
  return "";
}

// Every figure key any scenario has, in order.
std::set<std::string> figure_keys(const Report& report) {
  std::set<std::string> keys;
  for (const auto& r : report.results) {
    for (const auto& [k, v] : r.figures) keys.insert(k);
  }
  return keys;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c == '\n' ? ' ' : c;
  }
  return quoted + "\"";
}

int column_width(const std::string& name) { return std::max(10, static_cast<int>(name.size())); }

std::string optional_number(const std::optional<double>& value) {
  return value ? format_number(*value) : "";
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(rounded(*value)) : nlohmann::json(nullptr);
}

// "times in ms, memory in MiB": each unit the metrics use, once, in their order.
std::string units_phrase(const Report& report) {
  std::string phrase;
  std::set<std::string> seen;
  for (const auto& m : report.metrics) {
    if (!seen.insert(m.unit).second) continue;
    const std::string what = m.unit == "ms"     ? "times"
                             : m.unit == "MiB"  ? "memory"
                             : m.unit == "IOPS" ? "operations"
                                                : "throughput";
    phrase += (phrase.empty() ? "" : ", ") + what + " in " + m.unit;
  }
  return phrase;
}

}  // namespace

bool rates_only(const Report& report) {
  return !report.metrics.empty() &&
         std::all_of(report.metrics.begin(), report.metrics.end(),
                     [](const Metric& m) { return m.unit == "MB/s" || m.unit == "IOPS"; });
}

Report report_from_json(const nlohmann::json& j) {
  try {
    Report report;
    report.benchmark = j.at("benchmark").get<std::string>();
    report.runs = j.at("runs").get<unsigned>();
    report.baseline = j.at("baseline").get<std::string>();
    report.host = j.at("host").get<std::map<std::string, std::string>>();
    for (const auto& m : j.at("metrics")) {
      report.metrics.push_back({m.at("name").get<std::string>(), m.at("unit").get<std::string>(),
                                m.at("label").get<std::string>()});
    }
    report.ratio_metrics = j.at("ratio_metrics").get<std::vector<std::string>>();
    report.chart_metrics = j.at("chart_metrics").get<std::vector<std::string>>();
    for (const auto& s : j.at("scenarios")) {
      ScenarioResult r;
      r.scenario.name = s.at("name").get<std::string>();
      r.scenario.kind = s.at("kind").get<std::string>();
      r.scenario.description = s.value("description", "");
      r.scenario.argv = s.value("command", std::vector<std::string>{});
      if (s.contains("peer") && s["peer"].is_string()) r.scenario.peer = s["peer"];
      if (s.at("status") == "skipped") r.scenario.skipped = s.value("reason", "");
      r.failures = s.value("failures", std::vector<std::string>{});
      r.figures = s.value("figures", std::map<std::string, double>{});
      for (const auto& sample : s.at("samples")) r.samples.push_back(sample.get<Sample>());
      report.results.push_back(std::move(r));
    }
    return report;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError("report", std::string("not a vmm bench report: ") + e.what());
  }
}

nlohmann::json report_json(const Report& report) {
  nlohmann::json j;
  j["benchmark"] = report.benchmark;
  j["runs"] = report.runs;
  j["baseline"] = report.baseline;
  j["host"] = report.host;
  auto& metrics = j["metrics"] = nlohmann::json::array();
  for (const auto& m : report.metrics) {
    metrics.push_back({{"name", m.name}, {"unit", m.unit}, {"label", m.label}});
  }
  j["ratio_metrics"] = report.ratio_metrics;
  j["chart_metrics"] = report.chart_metrics;
  auto& scenarios = j["scenarios"] = nlohmann::json::array();
  for (const auto& r : report.results) {
    nlohmann::json s;
    s["name"] = r.scenario.name;
    s["kind"] = r.scenario.kind;
    s["description"] = r.scenario.description;
    s["command"] = r.scenario.argv;
    s["status"] = r.status();
    if (auto reason = reason_of(r); !reason.empty()) s["reason"] = reason;
    s["peer"] = r.scenario.peer.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.scenario.peer);
    s["failures"] = r.failures;
    auto& summary = s["summary"] = nlohmann::json::object();
    for (const auto& m : report.metrics) {
      if (auto sum = r.summary(m.name)) {
        summary[m.name] = {{"min", rounded(sum->min)},
                           {"median", rounded(sum->median)},
                           {"p95", rounded(sum->p95)},
                           {"max", rounded(sum->max)},
                           {"count", sum->count}};
      }
    }
    auto& ratios = s["ratio_to_baseline"] = nlohmann::json::object();
    auto& peer = s["ratio_to_peer"] = nlohmann::json::object();
    for (const auto& m : report.ratio_metrics) {
      ratios[m] = optional_json(report.median_ratio(r.scenario.name, report.baseline, m));
      peer[m] = optional_json(report.median_ratio(r.scenario.name, r.scenario.peer, m));
    }
    auto& figures = s["figures"] = nlohmann::json::object();
    for (const auto& [k, v] : r.figures) figures[k] = rounded(v);
    auto& samples = s["samples"] = nlohmann::json::array();
    for (const auto& sample : r.samples) {
      nlohmann::json one = nlohmann::json::object();
      for (const auto& [k, v] : sample) one[k] = rounded(v);
      samples.push_back(one);
    }
    scenarios.push_back(std::move(s));
  }
  return j;
}

std::string report_csv(const Report& report) {
  std::ostringstream out;
  const auto figures = figure_keys(report);
  out << "scenario,kind,status,reason,peer,runs,failures";
  for (const auto& m : report.metrics) {
    for (const char* stat : {"min", "median", "p95", "max"}) out << ',' << m.name << '_' << stat;
  }
  for (const auto& m : report.ratio_metrics) {
    out << ',' << m << "_ratio_to_baseline," << m << "_ratio_to_peer";
  }
  for (const auto& f : figures) out << ',' << f;
  out << '\n';
  for (const auto& r : report.results) {
    out << csv_field(r.scenario.name) << ',' << r.scenario.kind << ',' << r.status() << ','
        << csv_field(reason_of(r)) << ',' << csv_field(r.scenario.peer) << ',' << r.samples.size()
        << ',' << r.failures.size();
    for (const auto& m : report.metrics) {
      const auto sum = r.summary(m.name);
      for (int i = 0; i < 4; ++i) {
        out << ',';
        if (!sum) continue;
        const double values[] = {sum->min, sum->median, sum->p95, sum->max};
        out << format_number(values[i]);
      }
    }
    for (const auto& m : report.ratio_metrics) {
      out << ',' << optional_number(report.median_ratio(r.scenario.name, report.baseline, m)) << ','
          << optional_number(report.median_ratio(r.scenario.name, r.scenario.peer, m));
    }
    for (const auto& f : figures) {
      out << ',';
      if (auto it = r.figures.find(f); it != r.figures.end()) out << format_number(it->second);
    }
    out << '\n';
  }
  return out.str();
}

std::string report_table(const Report& report) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %-9s", "scenario", "status");
  out << line;
  for (std::size_t i = 0; i < report.metrics.size(); ++i) {
    const auto& name = report.metrics[i].name;
    std::snprintf(line, sizeof line, " %*s", column_width(name), name.c_str());
    out << line;
    if (i == 0) {
      std::snprintf(line, sizeof line, " %10s", "p95");
      out << line;
    }
  }
  for (const auto& m : report.ratio_metrics) {
    const auto name = m.substr(0, m.find('_'));
    std::snprintf(line, sizeof line, " %10s %9s", (name + " xbase").c_str(),
                  (name + " xpeer").c_str());
    out << line;
  }
  out << '\n';
  for (const auto& r : report.results) {
    std::snprintf(line, sizeof line, "%-24s %-9s", r.scenario.name.c_str(), r.status().c_str());
    out << line;
    if (r.status() != "measured") {
      out << "  " << reason_of(r) << '\n';
      continue;
    }
    for (std::size_t i = 0; i < report.metrics.size(); ++i) {
      const auto& name = report.metrics[i].name;
      const auto sum = r.summary(name);
      std::snprintf(line, sizeof line, " %*s", column_width(name),
                    sum ? format_number(sum->median).c_str() : "-");
      out << line;
      if (i == 0) {
        std::snprintf(line, sizeof line, " %10s", sum ? format_number(sum->p95).c_str() : "-");
        out << line;
      }
    }
    for (const auto& m : report.ratio_metrics) {
      const auto b = report.median_ratio(r.scenario.name, report.baseline, m);
      const auto p = report.median_ratio(r.scenario.name, r.scenario.peer, m);
      std::snprintf(line, sizeof line, " %10s %9s", b ? format_number(*b).c_str() : "-",
                    p ? format_number(*p).c_str() : "-");
      out << line;
    }
    if (!r.failures.empty()) out << "  (" << r.failures.size() << " runs failed)";
    out << '\n';
  }
  out << "Medians (and the p95 of the first); " << units_phrase(report)
      << "; x columns: the median's ratio to the baseline (" << report.baseline
      << ") and to the scenario's peer" << (rates_only(report) ? " (higher is better)" : "")
      << ".\n";
  return out.str();
}

}  // namespace vmm::bench
