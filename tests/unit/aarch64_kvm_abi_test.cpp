// The arm64 KVM ids vmm writes out itself, against the values the KVM API documentation lists
// (Documentation/virt/kvm/api.rst, KVM_SET_ONE_REG, "ARM64 registers").
#include <gtest/gtest.h>

#include "arch/aarch64/kvm/gic_v3.hpp"
#include "arch/aarch64/kvm_abi.hpp"

namespace vmm::aarch64 {
namespace {

TEST(Aarch64KvmAbi, CoreRegisterIdsAreTheDocumentedOnes) {
  EXPECT_EQ(x_reg_id(0), 0x6030'0000'0010'0000ULL);
  EXPECT_EQ(x_reg_id(1), 0x6030'0000'0010'0002ULL);
  EXPECT_EQ(x_reg_id(30), 0x6030'0000'0010'003cULL);
  EXPECT_EQ(kRegSp, 0x6030'0000'0010'003eULL);
  EXPECT_EQ(kRegPc, 0x6030'0000'0010'0040ULL);
  EXPECT_EQ(kRegPstate, 0x6030'0000'0010'0042ULL);
}

TEST(Aarch64KvmAbi, SystemRegisterIdEncodesOp0Op1CrnCrmOp2) {
  // MPIDR_EL1 is op0=3 op1=0 CRn=0 CRm=0 op2=5; CNTVCT_EL0 is 3, 3, 14, 0, 2.
  EXPECT_EQ(kRegMpidrEl1, 0x6030'0000'0013'c005ULL);
  EXPECT_EQ(sys_reg_id(3, 3, 14, 0, 2), 0x6030'0000'0013'df02ULL);
}

TEST(Aarch64KvmAbi, BootPstateIsEl1hWithEveryExceptionMasked) { EXPECT_EQ(kBootPstate, 0x3c5U); }

TEST(Aarch64KvmAbi, SpiIrqLineCarriesTypeAndIntid) {
  EXPECT_EQ(irq_line_for_spi(0), 0x0100'0020U);
  EXPECT_EQ(irq_line_for_spi(kVirtioMmioFirstSpi), 0x0100'0030U);
  EXPECT_EQ(irq_line_for_spi(kMaxSpi), 0x0100'00ffU);
}

TEST(Aarch64KvmAbi, GicCoversEverySpiTheLayoutHandsOut) {
  EXPECT_EQ(gic_interrupt_count(), 256U);
  EXPECT_GT(gic_interrupt_count(), kFirstSpiIntid + virtio_mmio_slot_spi(kVirtioMmioSlots - 1));
}

}  // namespace
}  // namespace vmm::aarch64
