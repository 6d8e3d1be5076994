// Feeds arbitrary bytes to the arm64 Image header parser and places what it accepts in RAM of
// a few shapes. Every input must end in a placement inside RAM or a vmm::Error; anything else
// (crash, sanitizer report, other exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "arch/aarch64/arm64_image.hpp"
#include "arch/aarch64/memory_layout.hpp"
#include "vmm/common/error.hpp"

namespace {

struct Ram {
  uint64_t base;
  uint64_t size;
};

// Typical, unaligned, and at the very top of the address space.
constexpr Ram kRams[] = {
    {vmm::aarch64::kRamBase, 256 * vmm::aarch64::kMiB},
    {vmm::aarch64::kRamBase + 4096, 64 * vmm::aarch64::kMiB},
    {~0ULL - 64 * vmm::aarch64::kMiB, 64 * vmm::aarch64::kMiB},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> image(data, size);
  try {
    const auto info = vmm::aarch64::parse_arm64_image(image);
    for (const auto& ram : kRams) {
      try {
        const auto p = vmm::aarch64::place_arm64_image(info, ram.base, ram.size);
        // What the placement promises: aligned, inside RAM, and as large as the kernel.
        if (p.base % vmm::aarch64::kKernelAlignment != 0 || p.base < ram.base ||
            p.load_address != p.base + info.text_offset ||
            p.end - p.load_address != info.memory_footprint() || p.end > ram.base + ram.size) {
          __builtin_trap();
        }
      } catch (const vmm::Error&) {
      }
    }
  } catch (const vmm::Error&) {
  }
  return 0;
}
