#include "arch/x86_64/e820.hpp"

#include <gtest/gtest.h>

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

constexpr uint32_t kRam = static_cast<uint32_t>(E820Type::kRam);
constexpr uint32_t kReserved = static_cast<uint32_t>(E820Type::kReserved);

void expect_entry(const E820Entry& e, uint64_t addr, uint64_t size, uint32_t type) {
  EXPECT_EQ(e.addr, addr);
  EXPECT_EQ(e.size, size);
  EXPECT_EQ(e.type, type);
}

TEST(E820, SmallGuestHasLowRamReservedBiosAreaAndHighRam) {
  const auto mem = GuestMemory::create(64 * kMiB, kMmioHoleStart, kMmioHoleEnd);
  const auto map = build_e820_map(mem);
  ASSERT_EQ(map.size(), 3u);
  expect_entry(map[0], 0, kEbdaStart, kRam);
  expect_entry(map[1], kEbdaStart, kHighMemStart - kEbdaStart, kReserved);
  expect_entry(map[2], kHighMemStart, 64 * kMiB - kHighMemStart, kRam);
}

TEST(E820, LargeGuestAddsRamAboveFourGiB) {
  const auto mem = GuestMemory::create(6 * kGiB, kMmioHoleStart, kMmioHoleEnd);
  const auto map = build_e820_map(mem);
  ASSERT_EQ(map.size(), 4u);
  expect_entry(map[2], kHighMemStart, kMmioHoleStart - kHighMemStart, kRam);
  expect_entry(map[3], kMmioHoleEnd, 3 * kGiB, kRam);
  uint64_t ram = 0;
  for (const auto& e : map) ram += e.type == kRam ? e.size : 0;
  EXPECT_EQ(ram, 6 * kGiB - (kHighMemStart - kEbdaStart));  // all RAM but the BIOS area
}

TEST(E820, TinyGuestStillReservesTheBiosArea) {
  const auto mem = GuestMemory::create(512 * kKiB, kMmioHoleStart, kMmioHoleEnd);
  const auto map = build_e820_map(mem);
  ASSERT_EQ(map.size(), 2u);
  expect_entry(map[0], 0, 512 * kKiB, kRam);
  expect_entry(map[1], kEbdaStart, kHighMemStart - kEbdaStart, kReserved);
}

TEST(E820, RegionsInsideTheBiosAreaAreNotReportedAsRam) {
  const auto mem = GuestMemory::create_regions({{GuestAddress(0), 0x1000},
                                                {GuestAddress(0xa0000), 0x10000},
                                                {GuestAddress(2 * kMiB), kMiB}});
  const auto map = build_e820_map(mem);
  ASSERT_EQ(map.size(), 3u);
  expect_entry(map[0], 0, 0x1000, kRam);
  expect_entry(map[1], kEbdaStart, kHighMemStart - kEbdaStart, kReserved);
  expect_entry(map[2], 2 * kMiB, kMiB, kRam);
}

TEST(E820, TooManyRegionsIsAnError) {
  std::vector<GuestMemory::RegionSpec> specs;
  for (uint64_t i = 0; i < kE820MaxEntries + 1; ++i) {
    specs.push_back({GuestAddress(4 * kGiB + i * 0x2000), 0x1000});
  }
  const auto mem = GuestMemory::create_regions(specs);
  EXPECT_THROW((void)build_e820_map(mem), Error);
}

}  // namespace
}  // namespace vmm::x86_64
