#include "arch/x86_64/boot_params.hpp"

#include <asm/bootparam.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "unit/kernel_test_images.hpp"
#include "vmm/common/error.hpp"

namespace vmm::x86_64 {
namespace {

using testing_images::BzImageSpec;
using testing_images::make_bzimage;

// The hand-written layout must agree with the kernel's own UAPI header field by field.
#define EXPECT_SAME_OFFSET(field) \
  EXPECT_EQ(offsetof(BootParams, field), offsetof(struct boot_params, field)) << #field
#define EXPECT_SAME_HDR_OFFSET(field) \
  EXPECT_EQ(offsetof(SetupHeader, field), offsetof(struct setup_header, field)) << #field

TEST(BootParams, LayoutMatchesTheKernelUapiHeader) {
  EXPECT_EQ(sizeof(BootParams), sizeof(struct boot_params));
  EXPECT_EQ(sizeof(SetupHeader), sizeof(struct setup_header));
  EXPECT_EQ(sizeof(E820Entry), sizeof(struct boot_e820_entry));
  EXPECT_EQ(kE820MaxEntries, size_t{E820_MAX_ENTRIES_ZEROPAGE});
  EXPECT_SAME_OFFSET(ext_ramdisk_image);
  EXPECT_SAME_OFFSET(ext_ramdisk_size);
  EXPECT_SAME_OFFSET(ext_cmd_line_ptr);
  EXPECT_SAME_OFFSET(e820_entries);
  EXPECT_SAME_OFFSET(sentinel);
  EXPECT_SAME_OFFSET(hdr);
  EXPECT_SAME_OFFSET(e820_table);
  EXPECT_SAME_HDR_OFFSET(syssize);
  EXPECT_SAME_HDR_OFFSET(vid_mode);
  EXPECT_SAME_HDR_OFFSET(boot_flag);
  EXPECT_SAME_HDR_OFFSET(header);
  EXPECT_SAME_HDR_OFFSET(version);
  EXPECT_SAME_HDR_OFFSET(type_of_loader);
  EXPECT_SAME_HDR_OFFSET(loadflags);
  EXPECT_SAME_HDR_OFFSET(ramdisk_image);
  EXPECT_SAME_HDR_OFFSET(ramdisk_size);
  EXPECT_SAME_HDR_OFFSET(heap_end_ptr);
  EXPECT_SAME_HDR_OFFSET(cmd_line_ptr);
  EXPECT_SAME_HDR_OFFSET(initrd_addr_max);
  EXPECT_SAME_HDR_OFFSET(kernel_alignment);
  EXPECT_SAME_HDR_OFFSET(relocatable_kernel);
  EXPECT_SAME_HDR_OFFSET(xloadflags);
  EXPECT_SAME_HDR_OFFSET(cmdline_size);
  EXPECT_SAME_HDR_OFFSET(pref_address);
  EXPECT_SAME_HDR_OFFSET(init_size);
  EXPECT_SAME_HDR_OFFSET(kernel_info_offset);
  EXPECT_EQ(kLoadflagCanUseHeap, CAN_USE_HEAP);
  EXPECT_EQ(kLoadflagLoadedHigh, LOADED_HIGH);
}

TEST(BootParams, CopiesTheImageHeaderAndFillsLoaderFields) {
  BzImageSpec spec;
  spec.cmdline_size = 1234;
  const auto image = make_bzimage(spec);
  const std::vector<E820Entry> e820{{0, 0x9fc00, 1}, {0x100000, 0x3f00000, 1}};
  ZeroPageConfig config;
  config.setup_header = std::span<const uint8_t>(image).subspan(0x1f1, 0x26c - 0x1f1);
  config.cmdline = GuestAddress(0x20000);
  config.initrd = GuestAddress(0x3000000);
  config.initrd_size = 0x12345;
  config.e820 = e820;
  const BootParams bp = build_boot_params(config);

  // Copied from the image.
  EXPECT_EQ(bp.hdr.boot_flag, 0xaa55);
  EXPECT_EQ(bp.hdr.header, kHdrSMagic);
  EXPECT_EQ(bp.hdr.version, spec.version);
  EXPECT_EQ(bp.hdr.cmdline_size, 1234u);
  EXPECT_EQ(bp.hdr.pref_address, spec.pref_address);
  EXPECT_EQ(bp.hdr.init_size, spec.init_size);
  // Set by the loader.
  EXPECT_EQ(bp.hdr.type_of_loader, 0xff);
  EXPECT_EQ(bp.hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
  EXPECT_EQ(bp.hdr.heap_end_ptr, 0xfe00);
  EXPECT_EQ(bp.hdr.vid_mode, 0xffff);
  EXPECT_EQ(bp.hdr.cmd_line_ptr, 0x20000u);
  EXPECT_EQ(bp.ext_cmd_line_ptr, 0u);
  EXPECT_EQ(bp.hdr.ramdisk_image, 0x3000000u);
  EXPECT_EQ(bp.hdr.ramdisk_size, 0x12345u);
  EXPECT_EQ(bp.ext_ramdisk_image, 0u);
  EXPECT_EQ(bp.sentinel, 0);
  ASSERT_EQ(bp.e820_entries, 2);
  EXPECT_EQ(bp.e820_table[1].addr, 0x100000u);
  EXPECT_EQ(bp.e820_table[1].size, 0x3f00000u);
  EXPECT_EQ(bp.e820_table[1].type, 1u);
  EXPECT_EQ(bp.e820_table[2].size, 0u);
}

TEST(BootParams, HighAddressesUseTheExtFields) {
  ZeroPageConfig config;
  config.cmdline = GuestAddress(0x1'2000'0000ULL);
  config.initrd = GuestAddress(0x1'4000'1000ULL);
  config.initrd_size = 0x2'0000'0010ULL;
  const BootParams bp = build_boot_params(config);
  EXPECT_EQ(bp.hdr.cmd_line_ptr, 0x2000'0000u);
  EXPECT_EQ(bp.ext_cmd_line_ptr, 1u);
  EXPECT_EQ(bp.hdr.ramdisk_image, 0x4000'1000u);
  EXPECT_EQ(bp.ext_ramdisk_image, 1u);
  EXPECT_EQ(bp.hdr.ramdisk_size, 0x10u);
  EXPECT_EQ(bp.ext_ramdisk_size, 2u);
}

TEST(BootParams, HandsOverTheAcpiRsdpAddress) {
  ZeroPageConfig config;
  config.cmdline = GuestAddress(0x20000);
  EXPECT_EQ(build_boot_params(config).acpi_rsdp_addr, 0u);
  config.acpi_rsdp = GuestAddress(0xe0000);
  EXPECT_EQ(build_boot_params(config).acpi_rsdp_addr, 0xe0000u);
}

TEST(BootParams, ElfKernelGetsAMinimalHeader) {
  ZeroPageConfig config;
  config.cmdline = GuestAddress(0x20000);
  const BootParams bp = build_boot_params(config);
  EXPECT_EQ(bp.hdr.boot_flag, 0xaa55);
  EXPECT_EQ(bp.hdr.header, 0x53726448u);
  EXPECT_EQ(bp.hdr.version, 0x020c);
  EXPECT_EQ(bp.hdr.type_of_loader, 0xff);
  EXPECT_EQ(bp.hdr.cmd_line_ptr, 0x20000u);
  EXPECT_EQ(bp.hdr.ramdisk_image, 0u);
  EXPECT_EQ(bp.hdr.ramdisk_size, 0u);
  EXPECT_EQ(bp.e820_entries, 0);
}

TEST(BootParams, LongerImageHeaderIsCutAtTheKnownFields) {
  std::vector<uint8_t> header(0x290 - 0x1f1, 0xab);
  ZeroPageConfig config;
  config.setup_header = header;
  const BootParams bp = build_boot_params(config);
  EXPECT_EQ(bp.hdr.kernel_info_offset, 0xabababab);
  EXPECT_EQ(bp.pad_026c[0], 0);
}

TEST(BootParams, TooManyE820EntriesIsAnError) {
  const std::vector<E820Entry> e820(kE820MaxEntries + 1, E820Entry{0, 0x1000, 1});
  ZeroPageConfig config;
  config.e820 = e820;
  EXPECT_THROW((void)build_boot_params(config), Error);
}

}  // namespace
}  // namespace vmm::x86_64
