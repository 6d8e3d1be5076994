#include "loader/kernel_release.hpp"

#include <cstring>

namespace vmm::loader {
namespace {

constexpr size_t kHeaderMagicOffset = 0x202;
constexpr size_t kProtocolOffset = 0x206;
constexpr size_t kVersionFieldOffset = 0x20e;
constexpr size_t kVersionBase = 0x200;
// A release is a short word; this bounds the scan of a hostile or truncated image.
constexpr size_t kMaxReleaseLength = 64;

uint16_t le16(std::span<const uint8_t> image, size_t offset) {
  return static_cast<uint16_t>(image[offset] | (image[offset + 1] << 8));
}

}  // namespace

std::optional<std::string> bzimage_kernel_release(std::span<const uint8_t> image) {
  if (image.size() < kVersionFieldOffset + 2) return std::nullopt;
  if (std::memcmp(image.data() + kHeaderMagicOffset, "HdrS", 4) != 0) return std::nullopt;
  if (le16(image, kProtocolOffset) < 0x0200) return std::nullopt;
  const uint16_t field = le16(image, kVersionFieldOffset);
  if (field == 0) return std::nullopt;
  const size_t start = kVersionBase + field;
  if (start >= image.size()) return std::nullopt;
  std::string release;
  for (size_t i = start; i < image.size() && release.size() <= kMaxReleaseLength; ++i) {
    const auto c = static_cast<char>(image[i]);
    if (c == ' ' || c == '\0') break;
    if (c < 0x21 || c > 0x7e || c == '/') return std::nullopt;
    release.push_back(c);
  }
  if (release.empty() || release.size() > kMaxReleaseLength) return std::nullopt;
  return release;
}

}  // namespace vmm::loader
