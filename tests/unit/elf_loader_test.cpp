#include "loader/elf_loader.hpp"

#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "unit/kernel_test_images.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::loader {
namespace {

using ::testing::HasSubstr;
using testing_images::get;
using testing_images::make_elf;
using testing_images::pattern_byte;
using testing_images::phdr_offset;
using testing_images::put;
using x86_64::kMiB;

constexpr uint64_t kBase = 0x1000000;

GuestMemory ram(uint64_t size) {
  return GuestMemory::create(size, x86_64::kMmioHoleStart, x86_64::kMmioHoleEnd);
}

std::string parse_error(const std::vector<uint8_t>& image) {
  try {
    (void)parse_elf_kernel(image);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string load_error(const GuestMemory& mem, const std::vector<uint8_t>& image) {
  try {
    (void)load_elf_kernel(mem, image, parse_elf_kernel(image));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ElfLoader, LoadsSegmentsAtPhysicalAddressesAndZeroesBss) {
  const auto image =
      make_elf({{kBase, 0x1800, 0x1800}, {kBase + 0x4000, 0x100, 0x2000}}, kBase + 0x40);
  EXPECT_EQ(detect_kernel_format(image), KernelFormat::kElf);
  const auto info = parse_elf_kernel(image);
  ASSERT_EQ(info.segments.size(), 2u);
  EXPECT_EQ(info.segments[1].paddr.raw, kBase + 0x4000);
  EXPECT_EQ(info.segments[1].memory_size, 0x2000u);

  auto mem = ram(64 * kMiB);
  // Dirty the bss first: the loader must clear it, not rely on fresh memory.
  ASSERT_TRUE(mem.fill(GuestAddress(kBase + 0x4000), 0x2000, 0xcc));
  const auto kernel = load_elf_kernel(mem, image, info);
  EXPECT_EQ(kernel.entry.raw, kBase + 0x40);
  EXPECT_EQ(kernel.start.raw, kBase);
  EXPECT_EQ(kernel.size, 0x6000u);
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kBase)), pattern_byte(0));
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kBase + 0x17ff)), pattern_byte(0x17ff));
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kBase + 0x4000)), pattern_byte(1));
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kBase + 0x40ff)), pattern_byte(0x100));
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kBase + 0x4100)), 0);
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kBase + 0x5fff)), 0);
}

TEST(ElfLoader, NonLoadSegmentsAreIgnored) {
  const auto image = make_elf({{0, 0x10, 0x10, PT_NOTE}, {kBase, 0x100, 0x100}}, kBase);
  const auto info = parse_elf_kernel(image);
  ASSERT_EQ(info.segments.size(), 1u);
  EXPECT_EQ(info.segments[0].paddr.raw, kBase);
}

TEST(ElfLoader, SegmentPastRamIsRefused) {
  const auto image = make_elf({{kBase, 0x100, 64 * kMiB}}, kBase);
  EXPECT_THAT(load_error(ram(64 * kMiB), image), HasSubstr("not inside guest RAM"));
}

TEST(ElfLoader, SegmentInTheBootAreaIsRefused) {
  const auto image = make_elf({{0x7000, 0x100, 0x100}}, 0x7000);
  EXPECT_THAT(load_error(ram(64 * kMiB), image), HasSubstr("between 1 MiB and 4 GiB"));
}

TEST(ElfLoader, BadSegmentLeavesMemoryUntouched) {
  // The first segment is fine, the second is not: nothing at all may be written.
  const auto image = make_elf({{kBase, 0x100, 0x100}, {63 * kMiB, 0x100, 2 * kMiB}}, kBase);
  auto mem = ram(64 * kMiB);
  EXPECT_NE(load_error(mem, image), "");
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kBase)), 0);
}

TEST(ElfLoader, FileSizeAboveMemorySizeIsRefused) {
  const auto image = make_elf({{kBase, 0x200, 0x100}}, kBase);
  EXPECT_THAT(parse_error(image), HasSubstr("filesz"));
}

TEST(ElfLoader, SegmentOffsetPastFileEndIsRefused) {
  auto image = make_elf({{kBase, 0x100, 0x100}}, kBase);
  put<uint64_t>(image, phdr_offset(0) + offsetof(Elf64_Phdr, p_offset), image.size() - 0x80);
  EXPECT_THAT(parse_error(image), HasSubstr("past the end of the file"));
  put<uint64_t>(image, phdr_offset(0) + offsetof(Elf64_Phdr, p_offset), ~uint64_t{0} - 8);
  EXPECT_THAT(parse_error(image), HasSubstr("past the end of the file"));
}

TEST(ElfLoader, WrappingSegmentIsRefused) {
  auto image = make_elf({{kBase, 0x100, 0x100}}, kBase);
  put<uint64_t>(image, phdr_offset(0) + offsetof(Elf64_Phdr, p_memsz), ~uint64_t{0});
  EXPECT_THAT(parse_error(image), HasSubstr("wraps"));
}

TEST(ElfLoader, WrongMachineIsRefused) {
  EXPECT_THAT(parse_error(make_elf({{kBase, 0x100, 0x100}}, kBase, EM_AARCH64)),
              HasSubstr("not x86-64"));
}

TEST(ElfLoader, ThirtyTwoBitElfIsRefused) {
  auto image = make_elf({{kBase, 0x100, 0x100}}, kBase);
  image[EI_CLASS] = ELFCLASS32;
  EXPECT_THAT(parse_error(image), HasSubstr("not 64-bit"));
}

TEST(ElfLoader, NoLoadableSegmentIsRefused) {
  EXPECT_THAT(parse_error(make_elf({{kBase, 0x10, 0x10, PT_NOTE}}, kBase)), HasSubstr("PT_LOAD"));
  EXPECT_THAT(parse_error(make_elf({}, kBase)), HasSubstr("no program headers"));
}

TEST(ElfLoader, EntryOutsideSegmentsIsRefused) {
  EXPECT_THAT(parse_error(make_elf({{kBase, 0x100, 0x100}}, kBase + 0x100)),
              HasSubstr("entry point"));
}

TEST(ElfLoader, ProgramHeaderTablePastFileEndIsRefused) {
  auto image = make_elf({{kBase, 0x100, 0x100}}, kBase);
  put<uint16_t>(image, offsetof(Elf64_Ehdr, e_phnum), 1000);
  EXPECT_THAT(parse_error(image), HasSubstr("program header table"));
  put<uint16_t>(image, offsetof(Elf64_Ehdr, e_phnum), 1);
  put<uint64_t>(image, offsetof(Elf64_Ehdr, e_phoff), ~uint64_t{0} - 10);
  EXPECT_THAT(parse_error(image), HasSubstr("program header table"));
}

TEST(ElfLoader, TruncatedHeaderIsRefused) {
  const auto image = make_elf({{kBase, 0x100, 0x100}}, kBase);
  const std::vector<uint8_t> cut(image.begin(), image.begin() + 40);
  EXPECT_THAT(parse_error(cut), HasSubstr("past the end of the file"));
  EXPECT_EQ(get<uint32_t>(image, 0), 0x464c457fu);  // the builder itself wrote a real header
}

}  // namespace
}  // namespace vmm::loader
