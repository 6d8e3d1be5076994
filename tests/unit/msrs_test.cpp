#include "arch/x86_64/msrs.hpp"

#include <gtest/gtest.h>

#include <map>

namespace vmm::x86_64 {
namespace {

std::map<uint32_t, uint64_t> as_map(const std::vector<kvm_msr_entry>& entries) {
  std::map<uint32_t, uint64_t> m;
  for (const auto& e : entries) {
    EXPECT_TRUE(m.emplace(e.index, e.data).second) << "duplicate MSR 0x" << std::hex << e.index;
    EXPECT_EQ(e.reserved, 0u);
  }
  return m;
}

TEST(Msrs, BootListContents) {
  const auto msrs = as_map(boot_msrs());
  const std::map<uint32_t, uint64_t> expected{
      {0x174, 0},       // SYSENTER_CS
      {0x175, 0},       // SYSENTER_ESP
      {0x176, 0},       // SYSENTER_EIP
      {0xc0000081, 0},  // STAR
      {0xc0000082, 0},  // LSTAR
      {0xc0000083, 0},  // CSTAR
      {0xc0000084, 0},  // SYSCALL_MASK
      {0xc0000102, 0},  // KERNEL_GS_BASE
      {0x1a0, 0x1},     // MISC_ENABLE: fast strings
      {0x2ff, 0x806},   // MTRRdefType: enabled, write-back
  };
  EXPECT_EQ(msrs, expected);
}

TEST(Msrs, TscIsLeftAlone) {
  const auto msrs = as_map(boot_msrs());
  EXPECT_EQ(msrs.count(0x10), 0u);
}

}  // namespace
}  // namespace vmm::x86_64
