#pragma once
// Device options are written as comma-separated lists: `FIRST,KEY=VALUE,KEY=VALUE`.
#include <string_view>
#include <vector>

namespace vmm::cli {

// Splits at every comma, keeping empty parts so that "x," and ",x" can be refused.
[[nodiscard]] inline std::vector<std::string_view> split_option_list(std::string_view spec) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) {
      parts.push_back(spec.substr(start));
      return parts;
    }
    parts.push_back(spec.substr(start, comma - start));
    start = comma + 1;
  }
}

}  // namespace vmm::cli
