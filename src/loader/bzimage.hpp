#pragma once
// Linux x86 bzImage (boot protocol 2.12+, Documentation/arch/x86/boot.rst): header parsing as a
// pure function over the file's bytes, and placement of the protected-mode kernel in guest RAM.
#include <cstdint>
#include <span>

#include "loader/kernel_image.hpp"
#include "vmm/memory/guest_memory.hpp"

namespace vmm::loader {

// File offsets of the real-mode setup header (boot.rst, "THE REAL-MODE KERNEL HEADER").
inline constexpr uint64_t kSetupHeaderOffset = 0x1f1;
// The header ends at 0x202 + the byte at 0x201 (the operand of its short jump).
inline constexpr uint64_t kSetupHeaderJumpEnd = 0x202;
inline constexpr uint16_t kMinBootProtocol = 0x020c;  // 2.12: first with xloadflags

inline constexpr uint8_t kLoadflagLoadedHigh = 1U << 0;
inline constexpr uint16_t kXlfKernel64 = 1U << 0;
inline constexpr uint16_t kXlfCanBeLoadedAbove4G = 1U << 1;

struct BzImageInfo {
  uint16_t protocol_version = 0;  // 0x020f is 2.15
  uint32_t setup_sects = 0;       // real-mode sectors; a 0 in the header already reads as 4
  uint64_t kernel_offset = 0;     // (setup_sects + 1) * 512: start of the protected-mode part
  uint64_t kernel_size = 0;       // file size - kernel_offset
  uint64_t setup_header_end = 0;  // file offset one past the setup header
  uint8_t loadflags = 0;
  uint16_t xloadflags = 0;
  bool relocatable = false;
  uint32_t kernel_alignment = 0;  // a power of two when relocatable
  uint64_t pref_address = 0;
  uint32_t init_size = 0;        // memory the kernel needs from its load address
  uint32_t cmdline_size = 0;     // longest command line, without the NUL
  uint32_t initrd_addr_max = 0;  // highest address the initrd's last byte may occupy

  // The setup header bytes [0x1f1, setup_header_end) of `image` (the same bytes parsed).
  [[nodiscard]] std::span<const uint8_t> setup_header(std::span<const uint8_t> image) const {
    return image.subspan(kSetupHeaderOffset, setup_header_end - kSetupHeaderOffset);
  }
  // Bytes of guest memory the kernel owns from its load address.
  [[nodiscard]] uint64_t memory_footprint() const noexcept {
    return kernel_size > init_size ? kernel_size : init_size;
  }
};

// Validates the header. Throws ConfigError with a one-line reason (without the file name) for
// anything this VMM cannot boot; every offset is checked against image.size().
[[nodiscard]] BzImageInfo parse_bzimage(std::span<const uint8_t> image);

// Where the kernel goes: pref_address when relocatable and it fits, 1 MiB when not
// relocatable, else the first kernel_alignment-aligned address >= 1 MiB with room for
// init_size. Only RAM below 4 GiB qualifies (the boot page tables map 4 GiB). Throws
// ConfigError when guest RAM is too small.
[[nodiscard]] GuestAddress choose_bzimage_load_address(const GuestMemory& mem,
                                                       const BzImageInfo& info);

// Copies the protected-mode kernel into guest RAM at choose_bzimage_load_address().
[[nodiscard]] LoadedKernel load_bzimage(const GuestMemory& mem, std::span<const uint8_t> image,
                                        const BzImageInfo& info);

}  // namespace vmm::loader
