#pragma once
// What every kernel loader produces, and how the kernel format is recognised.
#include <cstdint>
#include <span>

#include "vmm/memory/guest_address.hpp"

namespace vmm::loader {

enum class KernelFormat { kBzImage, kElf, kUnknown };

// bzImage: "HdrS" at offset 0x202; ELF: "\x7fELF" at offset 0. Pure, never throws.
[[nodiscard]] KernelFormat detect_kernel_format(std::span<const uint8_t> image) noexcept;

// A kernel placed in guest memory.
struct LoadedKernel {
  GuestAddress entry;  // 64-bit entry point (expects boot_params in RSI)
  GuestAddress start;  // lowest guest address the kernel owns
  uint64_t size = 0;   // bytes from `start` the kernel owns, including its decompression room
};

}  // namespace vmm::loader
