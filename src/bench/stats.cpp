#include "bench/stats.hpp"

#include <algorithm>
#include <cmath>

namespace vmm::bench {

std::optional<double> nearest_rank(const std::vector<double>& sorted, double p) {
  if (sorted.empty() || !(p > 0) || p > 100) return std::nullopt;
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * n));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::optional<Summary> summarize(std::vector<double> samples) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  Summary s;
  s.count = samples.size();
  s.min = samples.front();
  s.max = samples.back();
  const std::size_t mid = samples.size() / 2;
  s.median = samples.size() % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
  s.p95 = *nearest_rank(samples, 95);
  return s;
}

std::optional<double> ratio(std::optional<double> value, std::optional<double> baseline) {
  if (!value || !baseline || !(*baseline > 0)) return std::nullopt;
  return *value / *baseline;
}

}  // namespace vmm::bench
