#include "vmm/common/size.hpp"

#include <cctype>

#include "vmm/common/checked.hpp"

namespace vmm {

std::optional<uint64_t> parse_size(std::string_view text) noexcept {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    auto v = checked_mul(value, 10);
    if (!v) return std::nullopt;
    auto w = checked_add(*v, static_cast<uint64_t>(text[i] - '0'));
    if (!w) return std::nullopt;
    value = *w;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view suffix = text.substr(i);
  unsigned shift = 20;  // bare numbers are MiB
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'B':
        shift = 0;
        break;
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        return std::nullopt;
    }
    std::string_view rest = suffix.substr(1);
    if (shift != 0 && (rest == "iB" || rest == "ib" || rest == "B" || rest == "b")) rest = {};
    if (!rest.empty()) return std::nullopt;
  }
  return checked_mul(value, uint64_t{1} << shift);
}

std::string format_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  unsigned u = 0;
  while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + units[u];
}

}  // namespace vmm
