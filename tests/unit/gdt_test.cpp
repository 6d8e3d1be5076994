#include "arch/x86_64/gdt.hpp"

#include <gtest/gtest.h>

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

TEST(Gdt, EntryEncodingOfTheBootDescriptors) {
  EXPECT_EQ(gdt_entry(kCode64Flags, 0, 0xfffff), 0x00af9b000000ffffULL);
  EXPECT_EQ(gdt_entry(kData32Flags, 0, 0xfffff), 0x00cf93000000ffffULL);
  EXPECT_EQ(gdt_entry(kTssFlags, 0, 0xfffff), 0x008f8b000000ffffULL);
  EXPECT_EQ(gdt_entry(0, 0, 0), 0u);
}

TEST(Gdt, EntryEncodingSplitsBaseAndLimit) {
  // base 31:24 in byte 7, flags nibble + limit 19:16 in byte 6, access byte 5,
  // base 23:0 in bytes 4..2, limit 15:0 in bytes 1..0.
  EXPECT_EQ(gdt_entry(0x808b, 0x12345678, 0xabcde), 0x128a8b345678bcdeULL);
  // Bits of the arguments outside their fields are dropped.
  EXPECT_EQ(gdt_entry(0x0f00, 0, 0xfff00000), 0u);
}

TEST(Gdt, BootGdtHasNullCodeDataTss) {
  const auto gdt = boot_gdt();
  EXPECT_EQ(gdt[kBootGdtNullIndex], 0u);
  EXPECT_EQ(gdt[kBootGdtCodeIndex], gdt_entry(kCode64Flags, 0, 0xfffff));
  EXPECT_EQ(gdt[kBootGdtDataIndex], gdt_entry(kData32Flags, 0, 0xfffff));
  EXPECT_EQ(gdt[kBootGdtTssIndex], gdt_entry(kTssFlags, 0, 0xfffff));
}

TEST(Gdt, CodeSegmentIs64BitFlat) {
  const kvm_segment cs = segment_from_gdt_entry(gdt_entry(kCode64Flags, 0, 0xfffff), 1);
  EXPECT_EQ(cs.base, 0u);
  EXPECT_EQ(cs.limit, 0xffffffffu);  // 0xfffff pages of 4 KiB
  EXPECT_EQ(cs.selector, 0x08);
  EXPECT_EQ(cs.type, 0xb);
  EXPECT_EQ(cs.present, 1);
  EXPECT_EQ(cs.dpl, 0);
  EXPECT_EQ(cs.db, 0);
  EXPECT_EQ(cs.s, 1);
  EXPECT_EQ(cs.l, 1);
  EXPECT_EQ(cs.g, 1);
  EXPECT_EQ(cs.avl, 0);
  EXPECT_EQ(cs.unusable, 0);
}

TEST(Gdt, DataAndTssSegments) {
  const kvm_segment ds = segment_from_gdt_entry(gdt_entry(kData32Flags, 0, 0xfffff), 2);
  EXPECT_EQ(ds.selector, 0x10);
  EXPECT_EQ(ds.type, 0x3);
  EXPECT_EQ(ds.db, 1);
  EXPECT_EQ(ds.l, 0);
  EXPECT_EQ(ds.s, 1);
  EXPECT_EQ(ds.limit, 0xffffffffu);

  const kvm_segment tr = segment_from_gdt_entry(gdt_entry(kTssFlags, 0, 0xfffff), 3);
  EXPECT_EQ(tr.selector, 0x18);
  EXPECT_EQ(tr.type, 0xb);
  EXPECT_EQ(tr.s, 0);  // system descriptor
  EXPECT_EQ(tr.present, 1);
  EXPECT_EQ(tr.g, 1);
}

TEST(Gdt, SegmentDecodesEveryField) {
  const kvm_segment seg = segment_from_gdt_entry(gdt_entry(0x808b, 0x12345678, 0xabcde), 5);
  EXPECT_EQ(seg.base, 0x12345678u);
  EXPECT_EQ(seg.limit, 0xabcdefffu);
  EXPECT_EQ(seg.selector, 5 * 8);

  // Byte granularity, DPL 3, AVL set, no L/DB.
  const kvm_segment user = segment_from_gdt_entry(gdt_entry(0x10f3, 0xff000000, 0x00ff), 4);
  EXPECT_EQ(user.base, 0xff000000u);
  EXPECT_EQ(user.limit, 0xffu);
  EXPECT_EQ(user.g, 0);
  EXPECT_EQ(user.dpl, 3);
  EXPECT_EQ(user.avl, 1);
  EXPECT_EQ(user.type, 3);
  EXPECT_EQ(user.db, 0);
  EXPECT_EQ(user.l, 0);
}

TEST(Gdt, NotPresentDescriptorIsUnusable) {
  const kvm_segment null_seg = segment_from_gdt_entry(0, 0);
  EXPECT_EQ(null_seg.present, 0);
  EXPECT_EQ(null_seg.unusable, 1);
  EXPECT_EQ(null_seg.selector, 0);
}

TEST(Gdt, WriteBootGdtPlacesGdtAndEmptyIdt) {
  auto mem = GuestMemory::create(16 * kMiB, kMmioHoleStart, kMmioHoleEnd);
  ASSERT_TRUE(mem.fill(GuestAddress(0), 0x1000, 0xaa));
  write_boot_gdt(mem);

  const auto gdt = boot_gdt();
  for (std::size_t i = 0; i < gdt.size(); ++i) {
    EXPECT_EQ(mem.read_obj<uint64_t>(GuestAddress(kGdtAddr + i * 8)), gdt[i]) << "entry " << i;
  }
  EXPECT_EQ(mem.read_obj<uint64_t>(GuestAddress(kIdtAddr)), 0u);
  // Nothing beyond the IDT is touched.
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kIdtAddr + kBootIdtLimit + 1)), 0xaa);
  EXPECT_EQ(mem.read_obj<uint8_t>(GuestAddress(kGdtAddr - 1)), 0xaa);
}

TEST(Gdt, WriteBootGdtWithoutLowRamThrows) {
  auto mem = GuestMemory::create_regions({{GuestAddress(kHighMemStart), 1 * kMiB}});
  EXPECT_THROW(write_boot_gdt(mem), vmm::Error);
}

}  // namespace
}  // namespace vmm::x86_64
