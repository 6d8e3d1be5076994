#pragma once
// What a benchmark measures: scenarios (one way to start the workload), their samples, and the
// report that the table, JSON, CSV and SVG writers share.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/stats.hpp"

namespace vmm::bench {

// One way to start the workload, e.g. "vmm-vm-minimal" or "runc-run".
struct Scenario {
  std::string name;
  std::string kind;  // "vm", "container" or "floor"
  std::string description;
  // The command; "{id}" in an argument becomes a name unique to each run.
  std::vector<std::string> argv;
  // The workload's first output: a run is ready when this appears on its stdout or stderr.
  std::string ready_marker;
  int expected_status = 0;
  // The scenario this one is compared with when both ran (the same kernel or root).
  std::string peer;
  // Set when the scenario cannot run here: why (no KVM, peer not installed, ...).
  std::optional<std::string> skipped;
  // vmm's own scenarios: a failure is vmm's and is reported as such. A peer that fails on its
  // first run cannot run on this host (crun on a hybrid cgroup host), and is skipped with its
  // own words as the reason.
  bool ours = false;
};

// One measurement: metric name -> value (milliseconds, MiB).
using Sample = std::map<std::string, double>;

struct ScenarioResult {
  Scenario scenario;
  std::vector<Sample> samples;
  std::vector<std::string> failures;  // one line per failed run
  // Scalars of the whole scenario (density: time until all were ready, memory per instance).
  std::map<std::string, double> figures;

  // Keeps a measurement with its values as every output writes them (three decimals), so that
  // the summaries of a report and of its JSON read back are the same numbers.
  void record(const Sample& sample);
  // The outcome of run `run` (from 0): its sample, or why it failed. A peer that fails its
  // first run cannot run on this host: it becomes skipped, with its failure as the reason.
  void add_run(unsigned run, const std::optional<Sample>& sample, const std::string& failure);
  // "measured", "skipped" or "failed" (no run succeeded).
  [[nodiscard]] std::string status() const;
  [[nodiscard]] std::optional<Summary> summary(const std::string& metric) const;
};

struct Metric {
  std::string name;  // key in Sample, e.g. "ready_ms"
  std::string unit;  // "ms" or "MiB"
  std::string label;
};

struct Report {
  std::string benchmark;  // "startup" or "density"
  unsigned runs = 0;
  std::string baseline;  // scenario the ratio columns divide by
  std::vector<Metric> metrics;
  std::vector<std::string> ratio_metrics;  // metrics with a ratio to the baseline and the peer
  std::vector<std::string> chart_metrics;  // time metrics the chart draws
  std::map<std::string, std::string> host;
  std::vector<ScenarioResult> results;

  // Each scenario as a result without samples yet.
  void add(std::vector<Scenario> scenarios);
  // Runs the benchmark will make: `runs` of every scenario that is not skipped.
  [[nodiscard]] unsigned planned_runs() const;
  [[nodiscard]] const ScenarioResult* find(const std::string& name) const;
  // median(metric of `name`) / median(metric of `against`).
  [[nodiscard]] std::optional<double> median_ratio(const std::string& name,
                                                   const std::string& against,
                                                   const std::string& metric) const;
};

// Three decimals, the form every output uses, so that the table, CSV, JSON and SVG agree.
[[nodiscard]] std::string format_number(double value);
[[nodiscard]] double rounded(double value);

}  // namespace vmm::bench
