#include "bench/scenario.hpp"

#include <cstdio>
#include <string>

namespace vmm::bench {

void ScenarioResult::record(const Sample& sample) {
  Sample kept;
  for (const auto& [metric, value] : sample) kept[metric] = rounded(value);
  samples.push_back(std::move(kept));
}

void ScenarioResult::add_run(unsigned run, const std::optional<Sample>& sample,
                             const std::string& failure) {
  if (sample) {
    record(*sample);
  } else if (run == 0 && !scenario.ours) {
    scenario.skipped = "does not run on this host: " + failure;
  } else {
    failures.push_back("run " + std::to_string(run + 1) + ": " + failure);
  }
}

std::string ScenarioResult::status() const {
  if (scenario.skipped) return "skipped";
  return samples.empty() ? "failed" : "measured";
}

std::optional<Summary> ScenarioResult::summary(const std::string& metric) const {
  std::vector<double> values;
  values.reserve(samples.size());
  for (const auto& sample : samples) {
    if (auto it = sample.find(metric); it != sample.end()) values.push_back(it->second);
  }
  return summarize(std::move(values));
}

void Report::add(std::vector<Scenario> scenarios) {
  for (auto& s : scenarios) {
    ScenarioResult r;
    r.scenario = std::move(s);
    results.push_back(std::move(r));
  }
}

unsigned Report::planned_runs() const {
  unsigned total = 0;
  for (const auto& r : results) total += r.scenario.skipped ? 0 : runs;
  return total;
}

const ScenarioResult* Report::find(const std::string& name) const {
  for (const auto& result : results) {
    if (result.scenario.name == name) return &result;
  }
  return nullptr;
}

std::optional<double> Report::median_ratio(const std::string& name, const std::string& against,
                                           const std::string& metric) const {
  const auto* a = find(name);
  const auto* b = find(against);
  if (a == nullptr || b == nullptr) return std::nullopt;
  auto sa = a->summary(metric);
  auto sb = b->summary(metric);
  if (!sa || !sb) return std::nullopt;
  // The ratio of the medians as every output prints them.
  return ratio(rounded(sa->median), rounded(sb->median));
}

std::string format_number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

double rounded(double value) { return std::stod(format_number(value)); }

}  // namespace vmm::bench
