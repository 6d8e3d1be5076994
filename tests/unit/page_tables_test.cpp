#include "arch/x86_64/page_tables.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

class PageTablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Garbage first, so entries the writer leaves out would show up as non-zero.
    ASSERT_TRUE(mem_.fill(GuestAddress(kPml4Addr), kPdAddr + 4 * 0x1000 - kPml4Addr, 0xa5));
    write_identity_page_tables(mem_);
  }

  uint64_t entry(uint64_t table, uint64_t index) const {
    auto v = mem_.read_obj<uint64_t>(GuestAddress(table + index * 8));
    EXPECT_TRUE(v.has_value());
    return v.value_or(~0ULL);
  }

  // Walks the tables as the MMU does for a 2 MiB mapping; nullopt when not mapped.
  std::optional<uint64_t> translate(uint64_t virt) const {
    const uint64_t pml4e = entry(kPml4Addr, (virt >> 39) & 0x1ff);
    if ((pml4e & kPtePresent) == 0) return std::nullopt;
    const uint64_t pdpte = entry(pml4e & ~0xfffULL, (virt >> 30) & 0x1ff);
    if ((pdpte & kPtePresent) == 0) return std::nullopt;
    const uint64_t pde = entry(pdpte & ~0xfffULL, (virt >> 21) & 0x1ff);
    if ((pde & kPtePresent) == 0 || (pde & kPteHugePage) == 0) return std::nullopt;
    return (pde & ~(kLargePageSize - 1) & 0x000fffffffffffffULL) | (virt & (kLargePageSize - 1));
  }

  GuestMemory mem_ = GuestMemory::create(16 * kMiB, kMmioHoleStart, kMmioHoleEnd);
};

TEST_F(PageTablesTest, Pml4PointsToPdpt) {
  EXPECT_EQ(entry(kPml4Addr, 0), kPdptAddr | 0x3);
  for (uint64_t i = 1; i < 512; ++i) ASSERT_EQ(entry(kPml4Addr, i), 0u) << i;
}

TEST_F(PageTablesTest, PdptPointsToFourDirectories) {
  EXPECT_EQ(entry(kPdptAddr, 0), 0xb003u);
  EXPECT_EQ(entry(kPdptAddr, 1), 0xc003u);
  EXPECT_EQ(entry(kPdptAddr, 2), 0xd003u);
  EXPECT_EQ(entry(kPdptAddr, 3), 0xe003u);
  for (uint64_t i = 4; i < 512; ++i) ASSERT_EQ(entry(kPdptAddr, i), 0u) << i;
}

TEST_F(PageTablesTest, DirectoryEntriesAre2MiBPages) {
  EXPECT_EQ(entry(kPdAddr, 0), 0x83u);                       // 0
  EXPECT_EQ(entry(kPdAddr, 1), 0x200083u);                   // 2 MiB
  EXPECT_EQ(entry(kPdAddr + 3 * 0x1000, 0), 0xc0000083u);    // 3 GiB
  EXPECT_EQ(entry(kPdAddr + 3 * 0x1000, 1), 0xc0200083u);    // 3 GiB + 2 MiB
  EXPECT_EQ(entry(kPdAddr + 3 * 0x1000, 511), 0xffe00083u);  // last 2 MiB below 4 GiB
  for (uint64_t dir = 0; dir < 4; ++dir) {
    for (uint64_t i = 0; i < 512; ++i) {
      const uint64_t expected = ((dir * 512 + i) << 21) | 0x83;
      ASSERT_EQ(entry(kPdAddr + dir * 0x1000, i), expected) << dir << "/" << i;
    }
  }
}

TEST_F(PageTablesTest, IdentityMapsTheFirst4GiBOnly) {
  for (const uint64_t addr :
       std::initializer_list<uint64_t>{0x0, 0x1234, 2 * kMiB, 2 * kMiB + 0x10, kGiB + 0x345678,
                                       3 * kGiB, 3 * kGiB + 0x1234, kIoapicAddr, 4 * kGiB - 1}) {
    EXPECT_EQ(translate(addr), addr) << std::hex << addr;
  }
  EXPECT_EQ(translate(4 * kGiB), std::nullopt);
  EXPECT_EQ(translate(512 * kGiB), std::nullopt);
}

TEST(PageTables, WithoutLowRamThrows) {
  auto mem = GuestMemory::create_regions({{GuestAddress(kHighMemStart), 1 * kMiB}});
  EXPECT_THROW(write_identity_page_tables(mem), vmm::Error);
}

}  // namespace
}  // namespace vmm::x86_64
