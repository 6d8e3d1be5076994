#pragma once
// The arm64 Linux `Image` (Documentation/arch/arm64/booting.rst, "Call the kernel image"): its
// 64-byte header parsed as a pure function over the file's bytes, and where the kernel goes in
// guest RAM. Every header field is the file's word, checked before use.
#include <cstdint>
#include <span>

namespace vmm::aarch64 {

inline constexpr uint64_t kImageHeaderSize = 64;
inline constexpr uint64_t kImageMagicOffset = 0x38;
inline constexpr uint32_t kImageMagic = 0x644d'5241;  // "ARM\x64" little-endian
// What a kernel without image_size (before Linux 3.17) expects: booting.rst says to assume it.
inline constexpr uint64_t kLegacyTextOffset = 0x8'0000;

// Header flags (booting.rst): bit 0 endianness, bits 1-2 page size, bit 3 placement.
inline constexpr uint64_t kImageFlagBigEndian = 1U << 0;
inline constexpr unsigned kImageFlagPageSizeShift = 1;
inline constexpr uint64_t kImageFlagPageSizeMask = 3;
inline constexpr uint64_t kImageFlagPhysBaseAnywhere = 1U << 3;

enum class Arm64PageSize : uint8_t { kUnspecified = 0, k4K = 1, k16K = 2, k64K = 3 };

struct Arm64ImageInfo {
  uint64_t text_offset = 0;  // from the 2 MiB-aligned base; kLegacyTextOffset for old kernels
  uint64_t image_size = 0;   // as the header says; 0 for kernels before 3.17
  uint64_t file_size = 0;
  uint64_t flags = 0;
  Arm64PageSize page_size = Arm64PageSize::kUnspecified;
  // Bit 3: the 2 MiB base may be anywhere in RAM, not only as low as possible.
  bool placement_anywhere = false;

  // Bytes of RAM the kernel owns from its load address: image_size (which counts the BSS) or,
  // for an old kernel that does not say, the file itself.
  [[nodiscard]] uint64_t memory_footprint() const noexcept {
    return image_size > file_size ? image_size : file_size;
  }
};

// Validates the header. Throws ConfigError with a one-line reason (without the file name):
// truncated, no magic (with a hint for compressed images), big-endian, or fields that cannot
// describe a kernel.
[[nodiscard]] Arm64ImageInfo parse_arm64_image(std::span<const uint8_t> image);

struct Arm64ImagePlacement {
  uint64_t base = 0;          // 2 MiB aligned
  uint64_t load_address = 0;  // base + text_offset: where the file's first byte goes, the entry
  uint64_t end = 0;           // one past the last byte the kernel owns
};

// Where the kernel goes in RAM [ram_base, ram_base + ram_size): the first 2 MiB-aligned base in
// RAM, plus text_offset (booting.rst asks for the lowest base unless the kernel says
// otherwise, and the lowest suits both). Throws ConfigError when it does not fit.
[[nodiscard]] Arm64ImagePlacement place_arm64_image(const Arm64ImageInfo& info, uint64_t ram_base,
                                                    uint64_t ram_size);

}  // namespace vmm::aarch64
