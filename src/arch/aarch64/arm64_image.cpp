#include "arch/aarch64/arm64_image.hpp"

#include <fmt/format.h>

#include <cstring>

#include "arch/aarch64/memory_layout.hpp"
#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"

namespace vmm::aarch64 {
namespace {

// Header field offsets in the file.
constexpr uint64_t kTextOffset = 0x08;
constexpr uint64_t kImageSize = 0x10;
constexpr uint64_t kFlags = 0x18;

// Every kernel ever built placed itself within its 2 MiB block (TEXT_OFFSET was 0x80000, a
// random 4 KiB multiple below 2 MiB, or 0); a larger value is not a kernel's.
constexpr uint64_t kMaxTextOffset = kKernelAlignment;

// Little-endian field read; parse_arm64_image has checked the whole header lies in the buffer.
template <typename T>
T field(std::span<const uint8_t> image, uint64_t offset) {
  if (!range_within(offset, sizeof(T), 0, image.size())) {
    throw ConfigError(fmt::format("arm64 Image is truncated at header field {:#x}", offset));
  }
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));
  return value;
}

// What an image without the magic looks like, for a message that says what to do.
const char* not_an_image_hint(std::span<const uint8_t> image) {
  if (image.size() >= 2 && image[0] == 0x1f && image[1] == 0x8b) {
    return ": it is gzip-compressed (Image.gz); decompress it first";
  }
  if (image.size() >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' &&
      image[3] == 'F') {
    return ": it is an ELF file (vmlinux); use arch/arm64/boot/Image";
  }
  if (image.size() >= 0x206 && std::memcmp(image.data() + 0x202, "HdrS", 4) == 0) {
    return ": it is an x86 bzImage";
  }
  return "";
}

uint64_t mib_ceil(uint64_t bytes) { return bytes / kMiB + (bytes % kMiB != 0 ? 1 : 0); }

}  // namespace

Arm64ImageInfo parse_arm64_image(std::span<const uint8_t> image) {
  if (image.size() < kImageHeaderSize) {
    throw ConfigError(fmt::format("arm64 Image is truncated: {} bytes, the header alone needs {}",
                                  image.size(), kImageHeaderSize));
  }
  if (field<uint32_t>(image, kImageMagicOffset) != kImageMagic) {
    throw ConfigError(fmt::format("no \"ARM\\x64\" magic at offset 0x38: not an arm64 Image{}",
                                  not_an_image_hint(image)));
  }
  Arm64ImageInfo info;
  info.file_size = image.size();
  info.image_size = field<uint64_t>(image, kImageSize);
  if (info.image_size == 0) {
    // Before 3.17 text_offset had the kernel's endianness and no flags existed; booting.rst
    // says to assume 0x80000 and nothing else.
    info.text_offset = kLegacyTextOffset;
    return info;
  }
  info.flags = field<uint64_t>(image, kFlags);
  if ((info.flags & kImageFlagBigEndian) != 0) {
    throw ConfigError("arm64 Image is a big-endian kernel; only little-endian kernels boot");
  }
  info.page_size =
      static_cast<Arm64PageSize>((info.flags >> kImageFlagPageSizeShift) & kImageFlagPageSizeMask);
  info.placement_anywhere = (info.flags & kImageFlagPhysBaseAnywhere) != 0;
  info.text_offset = field<uint64_t>(image, kTextOffset);
  if (info.text_offset >= kMaxTextOffset) {
    throw ConfigError(
        fmt::format("arm64 Image text_offset {:#x} is not below 2 MiB", info.text_offset));
  }
  if (info.image_size < kImageHeaderSize) {
    throw ConfigError(
        fmt::format("arm64 Image image_size {} is smaller than its own header", info.image_size));
  }
  return info;
}

Arm64ImagePlacement place_arm64_image(const Arm64ImageInfo& info, uint64_t ram_base,
                                      uint64_t ram_size) {
  const auto ram_end = checked_add(ram_base, ram_size);
  if (!ram_end) throw ConfigError("guest RAM range wraps around the address space");
  const auto base_rounded = checked_add(ram_base, kKernelAlignment - 1);
  const auto load = base_rounded
                        ? checked_add(align_down(*base_rounded, kKernelAlignment), info.text_offset)
                        : std::nullopt;
  const auto end = load ? checked_add(*load, info.memory_footprint()) : std::nullopt;
  if (!end || *end > *ram_end) {
    throw ConfigError(fmt::format(
        "arm64 Image needs {} MiB from a 2 MiB boundary plus {:#x}; guest memory is too small",
        mib_ceil(info.memory_footprint()), info.text_offset));
  }
  return Arm64ImagePlacement{*load - info.text_offset, *load, *end};
}

}  // namespace vmm::aarch64
