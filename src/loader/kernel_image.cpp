#include "loader/kernel_image.hpp"

#include <algorithm>
#include <array>

namespace vmm::loader {

KernelFormat detect_kernel_format(std::span<const uint8_t> image) noexcept {
  constexpr std::array<uint8_t, 4> kElfMagic{0x7f, 'E', 'L', 'F'};
  constexpr std::array<uint8_t, 4> kHdrS{'H', 'd', 'r', 'S'};
  constexpr size_t kHdrSOffset = 0x202;
  if (image.size() >= kHdrSOffset + kHdrS.size() &&
      std::equal(kHdrS.begin(), kHdrS.end(), image.begin() + kHdrSOffset)) {
    return KernelFormat::kBzImage;
  }
  if (image.size() >= kElfMagic.size() &&
      std::equal(kElfMagic.begin(), kElfMagic.end(), image.begin())) {
    return KernelFormat::kElf;
  }
  return KernelFormat::kUnknown;
}

}  // namespace vmm::loader
