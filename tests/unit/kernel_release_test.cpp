// The release read from a bzImage's kernel_version string, against well-formed and hostile
// headers (offsets past the end, unterminated and unprintable strings).
#include "loader/kernel_release.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace vmm::loader {
namespace {

// A header with "HdrS", protocol 2.15 and the version string at file offset 0x200 + field.
std::vector<uint8_t> image_with_version(const std::string& version, uint16_t field = 0x100,
                                        size_t size = 0x1000) {
  std::vector<uint8_t> image(size, 0);
  std::memcpy(image.data() + 0x202, "HdrS", 4);
  image[0x206] = 0x0f;
  image[0x207] = 0x02;
  image[0x20e] = static_cast<uint8_t>(field);
  image[0x20f] = static_cast<uint8_t>(field >> 8);
  if (0x200U + field + version.size() <= image.size()) {
    std::memcpy(image.data() + 0x200 + field, version.data(), version.size());
  }
  return image;
}

TEST(KernelRelease, FirstWordOfTheVersionString) {
  EXPECT_EQ(bzimage_kernel_release(image_with_version(
                "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC")),
            "6.1.0-57-amd64");
  EXPECT_EQ(bzimage_kernel_release(image_with_version("6.1.192")), "6.1.192");
}

TEST(KernelRelease, NoHeaderOrNoFieldIsNone) {
  auto image = image_with_version("6.1.0");
  image[0x202] = 'X';
  EXPECT_EQ(bzimage_kernel_release(image), std::nullopt);
  EXPECT_EQ(bzimage_kernel_release(image_with_version("6.1.0", 0)), std::nullopt);
  EXPECT_EQ(bzimage_kernel_release(std::vector<uint8_t>(0x20f, 0)), std::nullopt);
  EXPECT_EQ(bzimage_kernel_release({}), std::nullopt);
}

TEST(KernelRelease, HostileOffsetsAndStringsAreNone) {
  // The field points past the end of the image.
  EXPECT_EQ(bzimage_kernel_release(image_with_version("6.1.0", 0xff00)), std::nullopt);
  // A string that runs to the end of the image without a terminator is still bounded.
  auto image = image_with_version("", 0x100, 0x300 + 200);
  std::memset(image.data() + 0x300, 'a', 200);
  EXPECT_EQ(bzimage_kernel_release(image), std::nullopt);  // longer than any release
  EXPECT_EQ(bzimage_kernel_release(image_with_version("6.1\x01-x")), std::nullopt);
  EXPECT_EQ(bzimage_kernel_release(image_with_version("../../etc")), std::nullopt);
  EXPECT_EQ(bzimage_kernel_release(image_with_version(" 6.1.0")), std::nullopt);
}

}  // namespace
}  // namespace vmm::loader
