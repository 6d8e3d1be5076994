#include "arch/aarch64/arm64_image.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "arch/aarch64/memory_layout.hpp"
#include "vmm/common/error.hpp"

namespace vmm::aarch64 {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kFlags4KAnywhere = (1U << kImageFlagPageSizeShift) | kImageFlagPhysBaseAnywhere;

struct ImageSpec {
  uint64_t text_offset = 0;
  uint64_t image_size = 16 * kMiB;
  uint64_t flags = kFlags4KAnywhere;
  uint32_t magic = kImageMagic;
  std::size_t file_size = 4096;
};

template <typename T>
void put(std::vector<uint8_t>& image, std::size_t offset, T value) {
  std::memcpy(image.data() + offset, &value, sizeof(T));
}

// A header as a kernel build writes it (the code words are two branch-like placeholders).
std::vector<uint8_t> make_image(const ImageSpec& spec) {
  std::vector<uint8_t> image(std::max<std::size_t>(spec.file_size, kImageHeaderSize), 0);
  put<uint32_t>(image, 0x00, 0x9100'0000);
  put<uint32_t>(image, 0x04, 0x1400'0000);
  put(image, 0x08, spec.text_offset);
  put(image, 0x10, spec.image_size);
  put(image, 0x18, spec.flags);
  put(image, kImageMagicOffset, spec.magic);
  image.resize(spec.file_size);
  return image;
}

// The ConfigError message parse_arm64_image throws for `image`, or "" when it parses.
std::string parse_error(const std::vector<uint8_t>& image) {
  try {
    (void)parse_arm64_image(image);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string place_error(const Arm64ImageInfo& info, uint64_t ram_base, uint64_t ram_size) {
  try {
    (void)place_arm64_image(info, ram_base, ram_size);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Arm64Image, ParsesAModernHeader) {
  const auto info = parse_arm64_image(make_image({}));
  EXPECT_EQ(info.text_offset, 0U);
  EXPECT_EQ(info.image_size, 16 * kMiB);
  EXPECT_EQ(info.file_size, 4096U);
  EXPECT_EQ(info.flags, kFlags4KAnywhere);
  EXPECT_EQ(info.page_size, Arm64PageSize::k4K);
  EXPECT_TRUE(info.placement_anywhere);
  EXPECT_EQ(info.memory_footprint(), 16 * kMiB);
}

TEST(Arm64Image, DecodesPageSizeAndPlacementFlags) {
  EXPECT_EQ(parse_arm64_image(make_image({.flags = 0})).page_size, Arm64PageSize::kUnspecified);
  EXPECT_FALSE(parse_arm64_image(make_image({.flags = 0})).placement_anywhere);
  EXPECT_EQ(parse_arm64_image(make_image({.flags = 2U << 1})).page_size, Arm64PageSize::k16K);
  EXPECT_EQ(parse_arm64_image(make_image({.flags = 3U << 1})).page_size, Arm64PageSize::k64K);
  // Reserved bits are the kernel's business: a newer kernel may define them.
  EXPECT_EQ(parse_arm64_image(make_image({.flags = (1ULL << 63) | 2})).page_size,
            Arm64PageSize::k4K);
}

TEST(Arm64Image, FileLargerThanImageSizeCountsTheFile) {
  const auto info = parse_arm64_image(make_image({.image_size = 4096, .file_size = 8192}));
  EXPECT_EQ(info.memory_footprint(), 8192U);
}

TEST(Arm64Image, RejectsABadMagic) {
  EXPECT_THAT(parse_error(make_image({.magic = 0x644d5242})),
              HasSubstr("no \"ARM\\x64\" magic at offset 0x38: not an arm64 Image"));
  // Big-endian magic bytes are no arm64 Image either.
  EXPECT_THAT(parse_error(make_image({.magic = 0x4152'4d64})), HasSubstr("not an arm64 Image"));
}

TEST(Arm64Image, NamesWhatANonImageIs) {
  auto gz = make_image({.magic = 0});
  gz[0] = 0x1f;
  gz[1] = 0x8b;
  EXPECT_THAT(parse_error(gz), HasSubstr("gzip"));
  auto elf = make_image({.magic = 0});
  std::memcpy(elf.data(),
              "\x7f"
              "ELF",
              4);
  EXPECT_THAT(parse_error(elf), HasSubstr("vmlinux"));
  auto bz = make_image({.magic = 0, .file_size = 0x1000});
  std::memcpy(bz.data() + 0x202, "HdrS", 4);
  EXPECT_THAT(parse_error(bz), HasSubstr("x86 bzImage"));
}

TEST(Arm64Image, RejectsATruncatedHeader) {
  for (const std::size_t size : {0UL, 1UL, 0x38UL, 63UL}) {
    const auto image = make_image({.file_size = size});
    EXPECT_THAT(parse_error(image), HasSubstr("truncated")) << size;
  }
  EXPECT_EQ(parse_error(make_image({.file_size = 64})), "");
}

TEST(Arm64Image, RejectsABigEndianKernel) {
  EXPECT_THAT(parse_error(make_image({.flags = kFlags4KAnywhere | kImageFlagBigEndian})),
              HasSubstr("big-endian"));
}

TEST(Arm64Image, OldKernelWithoutImageSizeGetsTheLegacyTextOffset) {
  // Before 3.17 text_offset had the kernel's endianness: whatever it holds, 0x80000 applies.
  const auto info = parse_arm64_image(
      make_image({.text_offset = 0x0000'0800'0000'0000, .image_size = 0, .flags = 1}));
  EXPECT_EQ(info.text_offset, kLegacyTextOffset);
  EXPECT_EQ(info.image_size, 0U);
  EXPECT_EQ(info.flags, 0U);  // no flags field then
  EXPECT_EQ(info.memory_footprint(), 4096U);
  const auto p = place_arm64_image(info, kRamBase, 64 * kMiB);
  EXPECT_EQ(p.load_address, kRamBase + 0x80000);
  EXPECT_EQ(p.end, kRamBase + 0x80000 + 4096);
}

TEST(Arm64Image, TextOffsetMustStayInsideTheKernelsBlock) {
  const auto info = parse_arm64_image(make_image({.text_offset = 0x80000}));
  EXPECT_EQ(info.text_offset, 0x80000U);
  EXPECT_EQ(parse_error(make_image({.text_offset = kKernelAlignment - 4096})), "");
  EXPECT_THAT(parse_error(make_image({.text_offset = kKernelAlignment})),
              HasSubstr("text_offset 0x200000 is not below 2 MiB"));
  EXPECT_THAT(parse_error(make_image({.text_offset = kU64Max})), HasSubstr("text_offset"));
}

TEST(Arm64Image, RejectsAnImageSizeSmallerThanTheHeader) {
  EXPECT_THAT(parse_error(make_image({.image_size = 63})),
              HasSubstr("smaller than its own header"));
  EXPECT_EQ(parse_error(make_image({.image_size = 64})), "");
}

TEST(Arm64Image, PlacesTheKernelAtTheFirst2MiBBoundaryPlusTextOffset) {
  const auto info = parse_arm64_image(make_image({.text_offset = 0x80000}));
  auto p = place_arm64_image(info, kRamBase, 256 * kMiB);
  EXPECT_EQ(p.base, kRamBase);
  EXPECT_EQ(p.load_address, kRamBase + 0x80000);
  EXPECT_EQ(p.end, kRamBase + 0x80000 + 16 * kMiB);
  // RAM that does not start on a 2 MiB boundary: the next one.
  p = place_arm64_image(info, kRamBase + 4096, 256 * kMiB);
  EXPECT_EQ(p.base, kRamBase + 2 * kMiB);
  EXPECT_EQ(p.load_address, kRamBase + 2 * kMiB + 0x80000);
}

TEST(Arm64Image, FitsExactlyOrNotAtAll) {
  const auto info = parse_arm64_image(make_image({.text_offset = 0x80000}));
  const uint64_t need = 0x80000 + 16 * kMiB;
  EXPECT_EQ(place_arm64_image(info, kRamBase, need).end, kRamBase + need);
  EXPECT_THAT(place_error(info, kRamBase, need - 1), HasSubstr("guest memory is too small"));
  // No 2 MiB boundary inside RAM at all.
  EXPECT_THAT(place_error(info, kRamBase + 4096, kMiB), HasSubstr("too small"));
}

TEST(Arm64Image, OverflowingImageSizeIsRefusedNotWrapped) {
  const auto info = parse_arm64_image(make_image({.text_offset = 0x80000, .image_size = kU64Max}));
  EXPECT_EQ(info.memory_footprint(), kU64Max);
  EXPECT_THAT(place_error(info, kRamBase, kRamMaxSize), HasSubstr("too small"));
  const auto big = parse_arm64_image(make_image({.image_size = kU64Max - kRamBase + 1}));
  EXPECT_THAT(place_error(big, kRamBase, kU64Max - kRamBase), HasSubstr("too small"));
}

TEST(Arm64Image, RamAtTheTopOfTheAddressSpaceDoesNotWrap) {
  const auto info = parse_arm64_image(make_image({}));
  // Rounding the base up to 2 MiB would pass 2^64.
  EXPECT_THAT(place_error(info, kU64Max - 8191, 4096), HasSubstr("too small"));
  EXPECT_THAT(place_error(info, kU64Max, 1), HasSubstr("wraps"));
  EXPECT_THAT(place_error(info, 1, kU64Max), HasSubstr("wraps"));
}

}  // namespace
}  // namespace vmm::aarch64
