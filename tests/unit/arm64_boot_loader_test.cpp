// The arm64 boot payload in guest RAM: the Image at its 2 MiB base plus text_offset, the
// device tree's block at the end of RAM, the initrd right below it, and clear errors when the
// payload does not fit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "arch/aarch64/arm64_image.hpp"
#include "arch/aarch64/boot_loader.hpp"
#include "arch/aarch64/memory_layout.hpp"
#include "vmm/common/error.hpp"

namespace vmm::aarch64 {
namespace {

using ::testing::HasSubstr;

// A 4 KiB Image file whose header asks for `image_size` bytes at text_offset 0.
std::vector<uint8_t> image_file(uint64_t image_size) {
  std::vector<uint8_t> image(4096, 0xa5);
  const uint64_t text_offset = 0;
  const uint64_t flags = (1U << kImageFlagPageSizeShift) | kImageFlagPhysBaseAnywhere;
  std::memcpy(image.data() + 0x08, &text_offset, 8);
  std::memcpy(image.data() + 0x10, &image_size, 8);
  std::memcpy(image.data() + 0x18, &flags, 8);
  std::memcpy(image.data() + kImageMagicOffset, &kImageMagic, 4);
  return image;
}

GuestMemory ram(uint64_t size) {
  return GuestMemory::create_regions({{GuestAddress{kRamBase}, size}});
}

std::string load_error(const GuestMemory& memory, const std::vector<uint8_t>& image,
                       const std::vector<uint8_t>& initrd) {
  try {
    (void)load_arm64_payload(memory, image, initrd);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Arm64BootLoader, KernelAtRamBaseDeviceTreeAtTheEndInitrdBelowIt) {
  const GuestMemory memory = ram(64 * kMiB);
  const auto image = image_file(16 * kMiB);
  const std::vector<uint8_t> initrd(3 * kMiB + 5, 0x5a);
  const Arm64BootPayload p = load_arm64_payload(memory, image, initrd);

  EXPECT_EQ(p.entry, kRamBase);
  EXPECT_EQ(p.kernel_end, kRamBase + 16 * kMiB);
  EXPECT_EQ(p.fdt, kRamBase + 62 * kMiB);
  ASSERT_TRUE(p.initrd.has_value());
  EXPECT_EQ(p.initrd->size, initrd.size());
  EXPECT_EQ(p.initrd->start % 4096, 0U);
  EXPECT_LE(p.initrd->start + p.initrd->size, p.fdt);
  EXPECT_GT(p.initrd->start + p.initrd->size + 4096, p.fdt) << "the initrd hugs the device tree";

  std::vector<uint8_t> back(image.size());
  ASSERT_TRUE(memory.read(GuestAddress{p.entry}, back));
  EXPECT_EQ(back, image);
  std::vector<uint8_t> initrd_back(initrd.size());
  ASSERT_TRUE(memory.read(GuestAddress{p.initrd->start}, initrd_back));
  EXPECT_EQ(initrd_back, initrd);
}

TEST(Arm64BootLoader, NoInitrdLeavesNone) {
  const GuestMemory memory = ram(32 * kMiB);
  const Arm64BootPayload p = load_arm64_payload(memory, image_file(8 * kMiB), {});
  EXPECT_FALSE(p.initrd.has_value());
  EXPECT_EQ(p.fdt, kRamBase + 30 * kMiB);
}

TEST(Arm64BootLoader, InitrdThatWouldReachTheKernelIsRefused) {
  const GuestMemory memory = ram(32 * kMiB);
  // Kernel [0, 20 MiB), device tree at 30 MiB: 10 MiB between them.
  EXPECT_EQ(load_error(memory, image_file(20 * kMiB), std::vector<uint8_t>(10 * kMiB, 1)), "");
  EXPECT_THAT(load_error(memory, image_file(20 * kMiB), std::vector<uint8_t>(10 * kMiB + 1, 1)),
              HasSubstr("initrd of 11 MiB does not fit between the kernel and the device tree"));
}

TEST(Arm64BootLoader, KernelReachingTheDeviceTreeBlockIsRefused) {
  const GuestMemory memory = ram(32 * kMiB);
  EXPECT_THAT(load_error(memory, image_file(31 * kMiB), {}), HasSubstr("too small"));
  EXPECT_THAT(load_error(memory, image_file(64 * kMiB), {}), HasSubstr("too small"));
}

TEST(Arm64BootLoader, NotAnImageIsRefusedBeforeAnythingIsWritten) {
  const GuestMemory memory = ram(32 * kMiB);
  auto image = image_file(8 * kMiB);
  image[kImageMagicOffset] = 0;
  EXPECT_THAT(load_error(memory, image, {}), HasSubstr("arm64 Image"));
  std::vector<uint8_t> first(16);
  ASSERT_TRUE(memory.read(GuestAddress{kRamBase}, first));
  EXPECT_EQ(first, std::vector<uint8_t>(16, 0));
}

TEST(Arm64BootLoader, PlaceInitrdArithmeticCannotWrap) {
  EXPECT_EQ(place_initrd(UINT64_MAX, 0, kRamBase), std::nullopt);
  EXPECT_EQ(place_initrd(kRamBase + 1, 0, kRamBase), std::nullopt);
  EXPECT_EQ(place_initrd(4096, kRamBase, kRamBase + 4096), kRamBase);
  EXPECT_EQ(place_initrd(4097, kRamBase, kRamBase + 8192), kRamBase);  // aligned down
  EXPECT_EQ(place_initrd(4097, kRamBase + 1, kRamBase + 8192), std::nullopt);
}

TEST(Arm64BootLoader, DeviceTreeGoesToItsBlock) {
  const GuestMemory memory = ram(32 * kMiB);
  const Arm64BootPayload p = load_arm64_payload(memory, image_file(8 * kMiB), {});
  const std::vector<uint8_t> blob = {0xd0, 0x0d, 0xfe, 0xed};
  write_device_tree(memory, p.fdt, blob);
  std::vector<uint8_t> back(4);
  ASSERT_TRUE(memory.read(GuestAddress{p.fdt}, back));
  EXPECT_EQ(back, blob);
  EXPECT_THROW(write_device_tree(memory, p.fdt, std::vector<uint8_t>(kFdtMaxSize + 1)), Error);
}

}  // namespace
}  // namespace vmm::aarch64
