#pragma once
// Puts an arm64 guest's boot payload into RAM (Documentation/arch/arm64/booting.rst): the Image
// at its 2 MiB base plus text_offset, the device tree in RAM's last whole 2 MiB block, and the
// initrd right below that block, clear of the kernel. Pure over guest memory, so built and
// tested on every host.
#include <cstdint>
#include <optional>
#include <span>

#include "arch/aarch64/device_tree.hpp"
#include "vmm/memory/guest_memory.hpp"

namespace vmm::aarch64 {

// Where the boot payload went.
struct Arm64BootPayload {
  uint64_t entry = 0;  // the Image's first byte: the boot vCPU's PC
  uint64_t kernel_end = 0;
  uint64_t fdt = 0;  // x0; the blob itself is written later, from the device inventory
  std::optional<FdtInitrd> initrd;
};

// The initrd's start for `size` bytes below `fdt`, 4 KiB aligned; nullopt when it would reach
// down into [.., kernel_end).
[[nodiscard]] std::optional<uint64_t> place_initrd(uint64_t size, uint64_t kernel_end,
                                                   uint64_t fdt) noexcept;

// Validates and copies `image` and `initrd` (empty: none) into `memory`, whose RAM is one region
// from kRamBase. Throws ConfigError with a one-line reason when the Image is not one or the
// payload does not fit in RAM.
[[nodiscard]] Arm64BootPayload load_arm64_payload(const GuestMemory& memory,
                                                  std::span<const uint8_t> image,
                                                  std::span<const uint8_t> initrd);

// Writes a device tree blob at `fdt` (a payload's fdt address). Throws vmm::Error when it is
// larger than kFdtMaxSize (build_device_tree never makes one) or outside RAM.
void write_device_tree(const GuestMemory& memory, uint64_t fdt, std::span<const uint8_t> blob);

}  // namespace vmm::aarch64
