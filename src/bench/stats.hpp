#pragma once
// Order statistics of benchmark samples, and ratios between scenarios.
#include <cstddef>
#include <optional>
#include <vector>

namespace vmm::bench {

struct Summary {
  std::size_t count = 0;
  double min = 0;
  double median = 0;
  double p95 = 0;
  double max = 0;
};

// Nearest-rank percentile (the smallest sample with at least p% of the samples at or below it)
// of samples sorted in ascending order; p in (0, 100]. Empty input gives nullopt.
[[nodiscard]] std::optional<double> nearest_rank(const std::vector<double>& sorted, double p);

// min, median (the mean of the two middle samples when the count is even), nearest-rank p95 and
// max. Empty input gives nullopt.
[[nodiscard]] std::optional<Summary> summarize(std::vector<double> samples);

// value / baseline, or nullopt when either is missing or the baseline is not positive.
[[nodiscard]] std::optional<double> ratio(std::optional<double> value,
                                          std::optional<double> baseline);

}  // namespace vmm::bench
