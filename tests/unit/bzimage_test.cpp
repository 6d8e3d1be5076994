#include "loader/bzimage.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "loader/input_file.hpp"
#include "unit/kernel_test_images.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::loader {
namespace {

using ::testing::HasSubstr;
using testing_images::BzImageSpec;
using testing_images::make_bzimage;
using testing_images::pattern_byte;
using x86_64::kGiB;
using x86_64::kMiB;

GuestMemory ram(uint64_t size) {
  return GuestMemory::create(size, x86_64::kMmioHoleStart, x86_64::kMmioHoleEnd);
}

// The ConfigError message parse_bzimage throws for `image`, or "" when it parses.
std::string parse_error(const std::vector<uint8_t>& image) {
  try {
    (void)parse_bzimage(image);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(BzImage, ValidImageParses) {
  const BzImageSpec spec;
  const auto image = make_bzimage(spec);
  const auto info = parse_bzimage(image);
  EXPECT_EQ(info.protocol_version, 0x020f);
  EXPECT_EQ(info.setup_sects, 1u);
  EXPECT_EQ(info.kernel_offset, 2 * 512u);
  EXPECT_EQ(info.kernel_size, spec.payload_size);
  EXPECT_TRUE(info.relocatable);
  EXPECT_EQ(info.kernel_alignment, spec.kernel_alignment);
  EXPECT_EQ(info.pref_address, spec.pref_address);
  EXPECT_EQ(info.init_size, spec.init_size);
  EXPECT_EQ(info.cmdline_size, spec.cmdline_size);
  EXPECT_EQ(info.initrd_addr_max, spec.initrd_addr_max);
  EXPECT_EQ(info.setup_header_end, 0x26cu);
  EXPECT_EQ(info.setup_header(image).size(), 0x26cu - 0x1f1u);
  EXPECT_EQ(info.setup_header(image)[0], 1u);  // setup_sects is the first header byte
  EXPECT_EQ(detect_kernel_format(image), KernelFormat::kBzImage);
}

TEST(BzImage, ZeroSetupSectsMeansFour) {
  BzImageSpec spec;
  spec.setup_sects = 0;
  const auto image = make_bzimage(spec);
  const auto info = parse_bzimage(image);
  EXPECT_EQ(info.setup_sects, 4u);
  EXPECT_EQ(info.kernel_offset, 5 * 512u);
  EXPECT_EQ(info.kernel_size, spec.payload_size);
}

TEST(BzImage, WrongMagicIsRefused) {
  BzImageSpec spec;
  spec.magic = 0x53726449;
  EXPECT_THAT(parse_error(make_bzimage(spec)), HasSubstr("not a bzImage"));
  EXPECT_EQ(detect_kernel_format(make_bzimage(spec)), KernelFormat::kUnknown);
}

TEST(BzImage, WrongBootFlagIsRefused) {
  BzImageSpec spec;
  spec.boot_flag = 0x55aa;
  EXPECT_THAT(parse_error(make_bzimage(spec)), HasSubstr("boot flag"));
}

TEST(BzImage, OldProtocolIsRefusedWithItsVersion) {
  BzImageSpec spec;
  spec.version = 0x020a;
  EXPECT_THAT(parse_error(make_bzimage(spec)),
              HasSubstr("boot protocol 2.10 is too old, need 2.12+"));
  spec.version = 0x020b;
  EXPECT_THAT(parse_error(make_bzimage(spec)), HasSubstr("2.11 is too old"));
  spec.version = 0x020c;
  EXPECT_EQ(parse_error(make_bzimage(spec)), "");
}

TEST(BzImage, MissingKernel64IsRefused) {
  BzImageSpec spec;
  spec.xloadflags = 0x02;
  EXPECT_THAT(parse_error(make_bzimage(spec)), HasSubstr("kernel has no 64-bit entry point"));
}

TEST(BzImage, ZImageIsRefused) {
  BzImageSpec spec;
  spec.loadflags = 0;
  EXPECT_THAT(parse_error(make_bzimage(spec)), HasSubstr("zImage"));
}

TEST(BzImage, TruncatedPayloadIsRefused) {
  auto image = make_bzimage(BzImageSpec{});
  image.resize(image.size() - 17);  // syssize now claims more than the file holds
  EXPECT_THAT(parse_error(image), HasSubstr("truncated"));
}

TEST(BzImage, TruncatedSetupIsRefused) {
  BzImageSpec spec;
  spec.setup_sects = 30;
  auto image = make_bzimage(spec);
  image.resize(31 * 512);  // exactly the setup sectors, no kernel
  EXPECT_THAT(parse_error(image), HasSubstr("truncated"));
}

TEST(BzImage, EveryTruncationIsRefusedCleanly) {
  const auto full = make_bzimage(BzImageSpec{});
  for (size_t len = 0; len < full.size(); len += 7) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
    EXPECT_NE(parse_error(cut), "") << "length " << len;
  }
  EXPECT_EQ(parse_error(full), "");
}

TEST(BzImage, ShortHeaderIsRefused) {
  BzImageSpec spec;
  spec.header_jump = 0x60;  // ends at 0x262, before init_size
  EXPECT_THAT(parse_error(make_bzimage(spec)), HasSubstr("setup header"));
}

TEST(BzImage, AlignmentMustBeAPowerOfTwo) {
  BzImageSpec spec;
  spec.kernel_alignment = 0x300000;
  EXPECT_THAT(parse_error(make_bzimage(spec)), HasSubstr("not a power of two"));
  spec.kernel_alignment = 0;
  EXPECT_THAT(parse_error(make_bzimage(spec)), HasSubstr("not a power of two"));
}

TEST(BzImage, LoadsAtPreferredAddressWhenItFits) {
  const BzImageSpec spec;
  const auto image = make_bzimage(spec);
  const auto info = parse_bzimage(image);
  auto mem = ram(64 * kMiB);
  const auto kernel = load_bzimage(mem, image, info);
  EXPECT_EQ(kernel.start.raw, spec.pref_address);
  EXPECT_EQ(kernel.entry.raw, spec.pref_address + 0x200);
  EXPECT_EQ(kernel.size, spec.init_size);
  // The protected-mode part, not the setup sectors, is what lands at the load address.
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, uint64_t{0x200}, uint64_t{spec.payload_size - 1}}) {
    EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(spec.pref_address + i)), pattern_byte(i)) << i;
  }
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(spec.pref_address + spec.payload_size)), 0);
}

TEST(BzImage, FallsBackToFirstAlignedAddressAboveOneMiB) {
  BzImageSpec spec;
  spec.pref_address = 0x1000000;  // 16 MiB + 4 MiB does not fit in 12 MiB
  spec.kernel_alignment = 0x200000;
  const auto info = parse_bzimage(make_bzimage(spec));
  EXPECT_EQ(choose_bzimage_load_address(ram(12 * kMiB), info).raw, 2 * kMiB);
  spec.kernel_alignment = 0x1000;
  EXPECT_EQ(choose_bzimage_load_address(ram(12 * kMiB), parse_bzimage(make_bzimage(spec))).raw,
            kMiB);
}

TEST(BzImage, PreferredAddressInTheHoleIsNotUsed) {
  BzImageSpec spec;
  spec.pref_address = 3 * kGiB + 0x200000;  // MMIO hole: never RAM
  const auto info = parse_bzimage(make_bzimage(spec));
  EXPECT_EQ(choose_bzimage_load_address(ram(64 * kMiB), info).raw, 2 * kMiB);
}

TEST(BzImage, NonRelocatableKernelGoesToOneMiB) {
  BzImageSpec spec;
  spec.relocatable = false;
  spec.kernel_alignment = 0;  // ignored when not relocatable
  const auto info = parse_bzimage(make_bzimage(spec));
  EXPECT_EQ(choose_bzimage_load_address(ram(64 * kMiB), info).raw, kMiB);
  EXPECT_THROW((void)choose_bzimage_load_address(ram(4 * kMiB), info), ConfigError);
}

TEST(BzImage, TooLittleMemoryIsAConfigError) {
  BzImageSpec spec;
  spec.init_size = 64 * kMiB;
  const auto image = make_bzimage(spec);
  const auto info = parse_bzimage(image);
  auto mem = ram(32 * kMiB);
  try {
    (void)load_bzimage(mem, image, info);
    FAIL() << "a kernel needing 64 MiB loaded into 32 MiB";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("64 MiB"));
  }
}

// The stock distribution kernel, so the parser is checked against a real image and not only
// against images built from this file's own reading of the protocol.
TEST(RealKernelBzImage, StockKernelParsesAndLoadsAtItsPreferredAddress) {
  const char* path = std::getenv("VMM_TEST_KERNEL");
  ASSERT_NE(path, nullptr) << "VMM_TEST_KERNEL is not set: it must name a stock x86-64 bzImage";
  ASSERT_TRUE(std::filesystem::is_regular_file(path))
      << "VMM_TEST_KERNEL=" << path << " does not exist";
  const auto image = InputFile::open(path).read_all();
  ASSERT_EQ(detect_kernel_format(image), KernelFormat::kBzImage);
  const auto info = parse_bzimage(image);
  EXPECT_GE(info.protocol_version, 0x020f);
  EXPECT_NE(info.xloadflags & kXlfKernel64, 0);
  EXPECT_TRUE(info.relocatable);
  EXPECT_GE(info.init_size, info.kernel_size);
  EXPECT_GE(info.cmdline_size, 255u);
  EXPECT_EQ(info.setup_header_end, 0x202u + image[0x201]);

  auto mem = ram(512 * kMiB);
  const auto kernel = load_bzimage(mem, image, info);
  EXPECT_EQ(kernel.start.raw, info.pref_address);
  EXPECT_EQ(kernel.entry.raw, info.pref_address + 0x200);
  std::vector<uint8_t> loaded(4096);
  ASSERT_TRUE(mem.read(kernel.start, loaded));
  EXPECT_TRUE(std::equal(loaded.begin(), loaded.end(),
                         image.begin() + static_cast<ptrdiff_t>(info.kernel_offset)));
}

}  // namespace
}  // namespace vmm::loader
