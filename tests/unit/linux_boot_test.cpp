#include "arch/x86_64/linux_boot.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "arch/x86_64/boot_params.hpp"
#include "loader/initrd.hpp"
#include "unit/kernel_test_images.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

using ::testing::HasSubstr;
using testing_images::BzImageSpec;
using testing_images::make_bzimage;
using testing_images::make_elf;
using testing_images::pattern_byte;
using testing_images::TempFile;

GuestMemory ram(uint64_t size) { return GuestMemory::create(size, kMmioHoleStart, kMmioHoleEnd); }

BootParams zero_page(const GuestMemory& mem) {
  const auto bp = mem.read_obj<BootParams>(GuestAddress(kZeroPageAddr));
  EXPECT_TRUE(bp.has_value());
  return bp.value_or(BootParams{});
}

std::string cmdline_in(const GuestMemory& mem, uint64_t max) {
  std::string s;
  for (uint64_t i = 0; i < max; ++i) {
    const auto c = mem.read_obj<char>(GuestAddress(kCmdlineAddr + i));
    if (!c || *c == '\0') break;
    s.push_back(*c);
  }
  return s;
}

std::string boot_error(const GuestMemory& mem, const LinuxBootConfig& cfg) {
  try {
    (void)load_linux(mem, cfg);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(LinuxBoot, BzImageWithInitrdAndCommandLine) {
  const BzImageSpec spec;
  const TempFile kernel("kernel.bz", make_bzimage(spec));
  const std::vector<uint8_t> initrd_bytes(10000, 0x5e);
  const TempFile initrd("initrd.img", initrd_bytes);
  auto mem = ram(64 * kMiB);
  const auto info = load_linux(
      mem, {kernel.path(), initrd.path(), "console=ttyS0 reboot=k panic=1", std::nullopt});

  EXPECT_EQ(info.entry.raw, spec.pref_address + 0x200);
  EXPECT_EQ(info.boot_params.raw, kZeroPageAddr);
  EXPECT_EQ(info.kernel_start.raw, spec.pref_address);
  EXPECT_EQ(info.kernel_size, spec.init_size);
  // Highest page-aligned spot below the end of RAM.
  ASSERT_TRUE(info.initrd.has_value());
  EXPECT_EQ(info.initrd->raw, (64 * kMiB - 10000) & ~0xfffULL);
  EXPECT_EQ(info.initrd_size, 10000u);
  EXPECT_EQ(mem.read_obj<uint8_t>(*info.initrd), 0x5e);
  EXPECT_EQ(mem.read_obj<uint8_t>(*info.initrd + 9999), 0x5e);
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(spec.pref_address)), pattern_byte(0));
  EXPECT_EQ(cmdline_in(mem, 4096), "console=ttyS0 reboot=k panic=1");

  const BootParams bp = zero_page(mem);
  EXPECT_EQ(bp.hdr.boot_flag, 0xaa55);
  EXPECT_EQ(bp.hdr.header, kHdrSMagic);
  EXPECT_EQ(bp.hdr.type_of_loader, 0xff);
  EXPECT_NE(bp.hdr.loadflags & kLoadflagCanUseHeap, 0);
  EXPECT_EQ(bp.hdr.cmd_line_ptr, kCmdlineAddr);
  EXPECT_EQ(bp.hdr.ramdisk_image, info.initrd->raw);
  EXPECT_EQ(bp.hdr.ramdisk_size, 10000u);
  EXPECT_EQ(bp.hdr.vid_mode, 0xffff);
  ASSERT_EQ(bp.e820_entries, 3);
  EXPECT_EQ(bp.e820_table[2].addr, kHighMemStart);
  EXPECT_EQ(bp.e820_table[2].size, 64 * kMiB - kHighMemStart);
}

TEST(LinuxBoot, InitrdRespectsInitrdAddrMax) {
  BzImageSpec spec;
  spec.initrd_addr_max = 0x2ffffff;  // last byte at 48 MiB - 1
  const TempFile kernel("kernel.bz", make_bzimage(spec));
  const TempFile initrd("initrd.img", std::vector<uint8_t>(0x1800, 1));
  auto mem = ram(256 * kMiB);
  const auto info = load_linux(mem, {kernel.path(), initrd.path(), "", std::nullopt});
  ASSERT_TRUE(info.initrd.has_value());
  EXPECT_EQ(info.initrd->raw, 48 * kMiB - 0x2000);
}

TEST(LinuxBoot, InitrdGoesBelowTheKernelWhenTheKernelIsOnTop) {
  BzImageSpec spec;
  spec.pref_address = 32 * kMiB;
  spec.init_size = 32 * kMiB;  // the kernel owns [32 MiB, 64 MiB): all RAM above it
  const TempFile kernel("kernel.bz", make_bzimage(spec));
  const TempFile initrd("initrd.img", std::vector<uint8_t>(3 * kMiB, 1));
  auto mem = ram(64 * kMiB);
  const auto info = load_linux(mem, {kernel.path(), initrd.path(), "", std::nullopt});
  ASSERT_TRUE(info.initrd.has_value());
  EXPECT_EQ(info.initrd->raw, 29 * kMiB);
}

TEST(LinuxBoot, TooLargeInitrdIsAConfigError) {
  const TempFile kernel("kernel.bz", make_bzimage(BzImageSpec{}));
  const TempFile initrd("initrd.img", std::vector<uint8_t>(60 * kMiB, 1));
  auto mem = ram(64 * kMiB);
  EXPECT_THAT(boot_error(mem, {kernel.path(), initrd.path(), "", std::nullopt}),
              HasSubstr("initrd (60 MiB) does not fit in guest memory below 0x4000000"));
}

// An archive vmm appends starts at the next 4-byte boundary (the kernel's initramfs unpacker
// looks for an uncompressed cpio header only there); zeros fill the gap.
TEST(InitrdLayout, AppendixStartsFourByteAligned) {
  for (const auto& [file, offset] : std::vector<std::pair<uint64_t, uint64_t>>{
           {1, 4}, {3, 4}, {4, 4}, {5, 8}, {10000, 10000}, {10001, 10004}, {10003, 10004}}) {
    const auto layout = loader::initrd_layout(file, 100);
    ASSERT_TRUE(layout.has_value()) << file;
    EXPECT_EQ(layout->appendix_offset, offset) << file;
    EXPECT_EQ(layout->total_size, offset + 100) << file;
  }
  const auto plain = loader::initrd_layout(10001, 0);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->total_size, 10001U);  // nothing appended: no padding either
  EXPECT_FALSE(loader::initrd_layout(~uint64_t{0} - 1, 1).has_value());
  EXPECT_FALSE(loader::initrd_layout(~uint64_t{0} - 8, 16).has_value());
}

TEST(LinuxBoot, AppendixFollowsThePaddedInitrd) {
  const TempFile kernel("kernel.bz", make_bzimage(BzImageSpec{}));
  const TempFile initrd("initrd.img", std::vector<uint8_t>(10001, 0x5e));
  auto mem = ram(64 * kMiB);
  // Stale bytes everywhere: the padding must be written, not assumed.
  ASSERT_TRUE(mem.write(GuestAddress(kHighMemStart),
                        std::vector<uint8_t>(64 * kMiB - kHighMemStart, 0xaa)));
  LinuxBootConfig cfg{kernel.path(), initrd.path(), "", std::nullopt};
  cfg.initrd_appendix = {'0', '7', '0', '7', '0', '1', 'x', 'y'};
  const auto info = load_linux(mem, cfg);
  ASSERT_TRUE(info.initrd.has_value());
  EXPECT_EQ(info.initrd_size, 10004U + 8U);
  const auto bp = zero_page(mem);
  EXPECT_EQ(bp.hdr.ramdisk_size, 10012U);
  std::vector<uint8_t> loaded(info.initrd_size);
  ASSERT_TRUE(mem.read(*info.initrd, loaded));
  EXPECT_EQ(loaded[10000], 0x5e);
  EXPECT_EQ(loaded[10001], 0);
  EXPECT_EQ(loaded[10002], 0);
  EXPECT_EQ(loaded[10003], 0);
  EXPECT_EQ(std::string(loaded.begin() + 10004, loaded.end()), "070701xy");
}

TEST(LinuxBoot, AppendixCountsTowardsTheInitrdLimit) {
  const TempFile kernel("kernel.bz", make_bzimage(BzImageSpec{}));
  const TempFile initrd("initrd.img", std::vector<uint8_t>(30 * kMiB, 1));
  auto mem = ram(64 * kMiB);
  LinuxBootConfig fits{kernel.path(), initrd.path(), "", std::nullopt};
  EXPECT_NO_THROW((void)load_linux(mem, fits));
  LinuxBootConfig too_big = fits;
  too_big.initrd_appendix.assign(30 * kMiB, 2);
  EXPECT_THAT(boot_error(mem, too_big), HasSubstr("does not fit"));
}

TEST(LinuxBoot, CommandLineLimitComesFromTheKernel) {
  BzImageSpec spec;
  spec.cmdline_size = 255;
  const TempFile kernel("kernel.bz", make_bzimage(spec));
  auto mem = ram(64 * kMiB);
  EXPECT_EQ(boot_error(mem, {kernel.path(), std::nullopt, std::string(255, 'a'), std::nullopt}),
            "");
  EXPECT_EQ(cmdline_in(mem, 4096).size(), 255u);
  EXPECT_THAT(boot_error(mem, {kernel.path(), std::nullopt, std::string(256, 'a'), std::nullopt}),
              HasSubstr("kernel command line is 256 bytes, the kernel accepts at most 255"));
}

TEST(LinuxBoot, CommandLineLimitIsCappedByTheVmmArea) {
  BzImageSpec spec;
  spec.cmdline_size = 0xffffffff;
  const TempFile kernel("kernel.bz", make_bzimage(spec));
  auto mem = ram(64 * kMiB);
  EXPECT_THAT(boot_error(mem, {kernel.path(), std::nullopt, std::string(kCmdlineMaxSize, 'a'),
                               std::nullopt}),
              HasSubstr("accepts at most 65535"));
}

TEST(LinuxBoot, CommandLineWithNulIsRefused) {
  const TempFile kernel("kernel.bz", make_bzimage(BzImageSpec{}));
  auto mem = ram(64 * kMiB);
  EXPECT_THAT(boot_error(mem, {kernel.path(), std::nullopt, std::string("a\0b", 3), std::nullopt}),
              HasSubstr("NUL"));
}

TEST(LinuxBoot, ElfKernelGetsMinimalZeroPage) {
  const uint64_t base = 16 * kMiB;
  const TempFile kernel("vmlinux", make_elf({{base, 0x1000, 0x3000}}, base + 0x10));
  auto mem = ram(64 * kMiB);
  const auto info = load_linux(mem, {kernel.path(), std::nullopt, "quiet", std::nullopt});
  EXPECT_EQ(info.entry.raw, base + 0x10);
  EXPECT_EQ(info.kernel_start.raw, base);
  EXPECT_EQ(info.kernel_size, 0x3000u);
  const BootParams bp = zero_page(mem);
  EXPECT_EQ(bp.hdr.boot_flag, 0xaa55);
  EXPECT_EQ(bp.hdr.header, kHdrSMagic);
  EXPECT_EQ(bp.hdr.version, 0x020c);
  EXPECT_EQ(bp.hdr.type_of_loader, 0xff);
  EXPECT_EQ(bp.hdr.cmd_line_ptr, kCmdlineAddr);
  EXPECT_EQ(bp.e820_entries, 3);
  EXPECT_EQ(cmdline_in(mem, 100), "quiet");
}

TEST(LinuxBoot, MissingKernelNamesThePathAndTheReason) {
  auto mem = ram(64 * kMiB);
  const std::string path = ::testing::TempDir() + "/no-such-kernel";
  const auto error = boot_error(mem, {path, std::nullopt, "", std::nullopt});
  EXPECT_THAT(error, HasSubstr(path));
  EXPECT_THAT(error, HasSubstr("No such file or directory"));
}

TEST(LinuxBoot, DirectoryAsKernelIsRefused) {
  auto mem = ram(64 * kMiB);
  EXPECT_THAT(boot_error(mem, {::testing::TempDir(), std::nullopt, "", std::nullopt}),
              HasSubstr("not a regular file"));
}

TEST(LinuxBoot, UnknownFormatIsRefused) {
  const TempFile kernel("garbage", std::vector<uint8_t>(4096, 0x90));
  auto mem = ram(64 * kMiB);
  EXPECT_EQ(boot_error(mem, {kernel.path(), std::nullopt, "", std::nullopt}),
            kernel.path().string() + ": not a bzImage or ELF kernel");
}

TEST(LinuxBoot, ParseErrorsNameTheKernelFile) {
  BzImageSpec spec;
  spec.version = 0x020a;
  const TempFile kernel("old.bz", make_bzimage(spec));
  auto mem = ram(64 * kMiB);
  EXPECT_EQ(boot_error(mem, {kernel.path(), std::nullopt, "", std::nullopt}),
            kernel.path().string() + ": kernel boot protocol 2.10 is too old, need 2.12+");
}

TEST(LinuxBoot, MissingInitrdNamesThePath) {
  const TempFile kernel("kernel.bz", make_bzimage(BzImageSpec{}));
  auto mem = ram(64 * kMiB);
  const std::string path = ::testing::TempDir() + "/no-such-initrd";
  EXPECT_THAT(boot_error(mem, {kernel.path(), path, "", std::nullopt}), HasSubstr(path));
}

TEST(LinuxBoot, EmptyInitrdIsRefused) {
  const TempFile kernel("kernel.bz", make_bzimage(BzImageSpec{}));
  const TempFile initrd("empty.img", {});
  auto mem = ram(64 * kMiB);
  EXPECT_THAT(boot_error(mem, {kernel.path(), initrd.path(), "", std::nullopt}),
              HasSubstr("empty"));
}

TEST(RealKernelLinuxBoot, StockKernelZeroPage) {
  const char* path = std::getenv("VMM_TEST_KERNEL");
  ASSERT_NE(path, nullptr) << "VMM_TEST_KERNEL is not set: it must name a stock x86-64 bzImage";
  ASSERT_TRUE(std::filesystem::is_regular_file(path))
      << "VMM_TEST_KERNEL=" << path << " does not exist";
  const TempFile initrd("initrd.img", std::vector<uint8_t>(kMiB + 1, 0x42));
  auto mem = ram(2 * kGiB);
  const auto info = load_linux(mem, {path, initrd.path(), "console=ttyS0 panic=-1", std::nullopt});

  const BootParams bp = zero_page(mem);
  EXPECT_GE(bp.hdr.version, 0x020f);
  EXPECT_NE(bp.hdr.xloadflags & 1, 0);  // XLF_KERNEL_64
  EXPECT_NE(bp.hdr.relocatable_kernel, 0);
  EXPECT_EQ(info.kernel_start.raw, bp.hdr.pref_address);
  EXPECT_EQ(info.entry.raw, bp.hdr.pref_address + 0x200);
  EXPECT_EQ(bp.hdr.type_of_loader, 0xff);
  EXPECT_NE(bp.hdr.loadflags & kLoadflagCanUseHeap, 0);
  EXPECT_NE(bp.hdr.loadflags & kLoadflagLoadedHigh, 0);
  EXPECT_EQ(bp.hdr.cmd_line_ptr, kCmdlineAddr);
  EXPECT_EQ(cmdline_in(mem, 4096), "console=ttyS0 panic=-1");
  ASSERT_TRUE(info.initrd.has_value());
  EXPECT_EQ(bp.hdr.ramdisk_image, info.initrd->raw);
  EXPECT_EQ(bp.hdr.ramdisk_size, kMiB + 1);
  EXPECT_LE(info.initrd->raw + kMiB + 1, uint64_t{bp.hdr.initrd_addr_max} + 1);
  EXPECT_GE(info.initrd->raw, info.kernel_start.raw + info.kernel_size);
  EXPECT_EQ(info.initrd->raw % 4096, 0u);
  EXPECT_EQ(bp.e820_entries, 3);
}

}  // namespace
}  // namespace vmm::x86_64
