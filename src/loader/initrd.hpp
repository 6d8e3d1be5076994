#pragma once
// Initial ramdisk placement: as high as the kernel allows, page-aligned, clear of the kernel.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

#include "loader/kernel_image.hpp"
#include "vmm/memory/guest_memory.hpp"

namespace vmm::loader {

struct InitrdPlacement {
  GuestAddress start;
  uint64_t size = 0;  // the file and any appended archive, with the padding between them
};

// An initrd file followed by an archive vmm appends (the kernel unpacks concatenated cpio
// archives in turn, but an uncompressed one must start 4-byte aligned from the initrd's start).
struct InitrdLayout {
  uint64_t appendix_offset = 0;  // the file's size rounded up to 4; zeros fill the gap
  uint64_t total_size = 0;       // what the guest is told: file, padding and appendix
};

// nullopt when the sizes overflow. Without an appendix, total_size is the file's size. Pure.
[[nodiscard]] std::optional<InitrdLayout> initrd_layout(uint64_t file_size,
                                                        uint64_t appendix_size) noexcept;

// Highest page-aligned address at or above 1 MiB where `size` bytes end at or below
// min(addr_max + 1, end of RAM below 4 GiB) without overlapping `kernel`. Pure.
[[nodiscard]] std::optional<GuestAddress> place_initrd(const GuestMemory& mem, uint64_t size,
                                                       uint64_t addr_max,
                                                       const LoadedKernel& kernel) noexcept;

// Reads the initrd file straight into guest memory at place_initrd(), followed by `appendix`
// (placed as initrd_layout() says). Throws ConfigError when the file is unreadable or empty, or
// "initrd (N MiB) does not fit in guest memory below ...".
[[nodiscard]] InitrdPlacement load_initrd(const GuestMemory& mem, const std::filesystem::path& path,
                                          uint64_t addr_max, const LoadedKernel& kernel,
                                          std::span<const uint8_t> appendix = {});

// An initrd made in memory (vmm's own archive, no file): placed as place_initrd() says. Throws
// ConfigError when it is empty or does not fit, as load_initrd() does.
[[nodiscard]] InitrdPlacement load_initrd_bytes(const GuestMemory& mem,
                                                std::span<const uint8_t> archive, uint64_t addr_max,
                                                const LoadedKernel& kernel);

}  // namespace vmm::loader
