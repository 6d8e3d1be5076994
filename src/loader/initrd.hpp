#pragma once
// Initial ramdisk placement: as high as the kernel allows, page-aligned, clear of the kernel.
#include <cstdint>
#include <filesystem>
#include <optional>

#include "loader/kernel_image.hpp"
#include "vmm/memory/guest_memory.hpp"

namespace vmm::loader {

struct InitrdPlacement {
  GuestAddress start;
  uint64_t size = 0;
};

// Highest page-aligned address at or above 1 MiB where `size` bytes end at or below
// min(addr_max + 1, end of RAM below 4 GiB) without overlapping `kernel`. Pure.
[[nodiscard]] std::optional<GuestAddress> place_initrd(const GuestMemory& mem, uint64_t size,
                                                       uint64_t addr_max,
                                                       const LoadedKernel& kernel) noexcept;

// Reads the initrd file straight into guest memory at place_initrd(). Throws ConfigError when
// the file is unreadable or empty, or "initrd (N MiB) does not fit in guest memory below ...".
[[nodiscard]] InitrdPlacement load_initrd(const GuestMemory& mem, const std::filesystem::path& path,
                                          uint64_t addr_max, const LoadedKernel& kernel);

}  // namespace vmm::loader
