#include "arch/x86_64/lapic.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace vmm::x86_64 {
namespace {

TEST(Lapic, RegisterAccessIsLittleEndianAtTheOffset) {
  kvm_lapic_state lapic{};
  set_lapic_register(lapic, 0x350, 0x12345678);
  EXPECT_EQ(static_cast<uint8_t>(lapic.regs[0x350]), 0x78);
  EXPECT_EQ(static_cast<uint8_t>(lapic.regs[0x353]), 0x12);
  EXPECT_EQ(lapic_register(lapic, 0x350), 0x12345678u);
}

TEST(Lapic, OutOfRangeOffsetIsIgnored) {
  kvm_lapic_state lapic{};
  std::memset(lapic.regs, 0x11, sizeof(lapic.regs));
  set_lapic_register(lapic, 0x3fe, 0);
  EXPECT_EQ(lapic_register(lapic, 0x3fe), 0u);
  EXPECT_EQ(static_cast<uint8_t>(lapic.regs[0x3ff]), 0x11);
}

TEST(Lapic, ConfigureLintSetsExtIntAndNmi) {
  kvm_lapic_state lapic{};
  std::memset(lapic.regs, 0x5a, sizeof(lapic.regs));
  set_lapic_register(lapic, kApicLvtLint0, 0x00010000);  // masked, fixed delivery
  set_lapic_register(lapic, kApicLvtLint1, 0x00000720);  // ExtINT, vector 0x20
  const kvm_lapic_state before = lapic;

  configure_lint(lapic);

  EXPECT_EQ(lapic_register(lapic, 0x350), 0x00010700u);  // mask kept, mode 111 = ExtINT
  EXPECT_EQ(lapic_register(lapic, 0x360), 0x00000420u);  // mode 100 = NMI, vector kept
  EXPECT_EQ((lapic_register(lapic, 0x350) >> 8) & 7, 7u);
  EXPECT_EQ((lapic_register(lapic, 0x360) >> 8) & 7, 4u);
  // Every other byte is untouched.
  for (std::size_t i = 0; i < sizeof(lapic.regs); ++i) {
    if ((i >= 0x350 && i < 0x354) || (i >= 0x360 && i < 0x364)) continue;
    ASSERT_EQ(lapic.regs[i], before.regs[i]) << i;
  }
}

}  // namespace
}  // namespace vmm::x86_64
