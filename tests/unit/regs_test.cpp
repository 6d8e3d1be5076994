#include "arch/x86_64/regs.hpp"

#include <gtest/gtest.h>

#include "arch/x86_64/gdt.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

TEST(Regs, BootRegsFollowTheBootProtocol) {
  const kvm_regs regs = boot_regs(GuestAddress(0x1000200), GuestAddress(kZeroPageAddr));
  EXPECT_EQ(regs.rip, 0x1000200u);
  EXPECT_EQ(regs.rsi, kZeroPageAddr);
  EXPECT_EQ(regs.rsp, kBootStackTop);
  EXPECT_EQ(regs.rbp, kBootStackTop);
  EXPECT_EQ(regs.rflags, 0x2u);
  EXPECT_EQ(regs.rax, 0u);
  EXPECT_EQ(regs.rdi, 0u);
}

class LongModeSregsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // What KVM_GET_SREGS returns after reset, roughly: caches off, real mode.
    sregs_.cr0 = 0x60000010;
    sregs_.apic_base = 0xfee00900;
    sregs_.interrupt_bitmap[0] = 0x5;
    sregs_.cs.selector = 0xf000;
    sregs_.cs.base = 0xffff0000;
    set_long_mode_sregs(sregs_);
  }
  kvm_sregs sregs_{};
};

TEST_F(LongModeSregsTest, SegmentsComeFromTheBootGdt) {
  EXPECT_EQ(sregs_.cs.selector, 0x08);
  EXPECT_EQ(sregs_.cs.base, 0u);
  EXPECT_EQ(sregs_.cs.l, 1);
  EXPECT_EQ(sregs_.cs.db, 0);
  EXPECT_EQ(sregs_.cs.type, 0xb);
  for (const kvm_segment* seg : {&sregs_.ds, &sregs_.es, &sregs_.fs, &sregs_.gs, &sregs_.ss}) {
    EXPECT_EQ(seg->selector, 0x10);
    EXPECT_EQ(seg->type, 0x3);
    EXPECT_EQ(seg->present, 1);
    EXPECT_EQ(seg->limit, 0xffffffffu);
    EXPECT_EQ(seg->base, 0u);
  }
  EXPECT_EQ(sregs_.tr.selector, 0x18);
  EXPECT_EQ(sregs_.tr.type, 0xb);
  EXPECT_EQ(sregs_.tr.s, 0);
}

TEST_F(LongModeSregsTest, DescriptorTables) {
  EXPECT_EQ(sregs_.gdt.base, kGdtAddr);
  EXPECT_EQ(sregs_.gdt.limit, 4 * 8 - 1);
  EXPECT_EQ(sregs_.idt.base, kIdtAddr);
  EXPECT_EQ(sregs_.idt.limit, 7);
}

TEST_F(LongModeSregsTest, ControlRegistersEnableLongModePaging) {
  EXPECT_EQ(sregs_.cr0, 0x80000031u);  // PG | NE | ET | PE; CD and NW cleared
  EXPECT_EQ(sregs_.cr0 & (3ULL << 29), 0u);
  EXPECT_EQ(sregs_.cr3, kPml4Addr);
  EXPECT_EQ(sregs_.cr4, 0x20u);    // PAE
  EXPECT_EQ(sregs_.efer, 0x500u);  // LMA | LME
}

TEST_F(LongModeSregsTest, KeepsWhatItDoesNotOwn) {
  EXPECT_EQ(sregs_.apic_base, 0xfee00900u);
  EXPECT_EQ(sregs_.interrupt_bitmap[0], 0x5u);
}

TEST(Regs, BootFpu) {
  const kvm_fpu fpu = boot_fpu();
  EXPECT_EQ(fpu.fcw, 0x37f);
  EXPECT_EQ(fpu.mxcsr, 0x1f80u);
  EXPECT_EQ(fpu.fsw, 0);
}

}  // namespace
}  // namespace vmm::x86_64
