// The platform resource allocator: fixed resources are reserved, the rest allocated first-fit;
// overlaps are refused and running out is a clear configuration error.
#include "vmm/resource_allocator.hpp"

#include <gtest/gtest.h>

#include <array>

#include "vmm/common/error.hpp"

namespace vmm {
namespace {

TEST(AddressAllocator, ReservesAndRefusesOverlaps) {
  AddressAllocator ports("I/O port", 0, 0x10000);
  ports.reserve(0x3f8, 8, "com1");
  ports.reserve(0x400, 4, "next-door");  // adjacent, not overlapping
  EXPECT_THROW(ports.reserve(0x3f0, 9, "left"), Error);
  EXPECT_THROW(ports.reserve(0x3ff, 1, "inside"), Error);
  EXPECT_THROW(ports.reserve(0x3f0, 0x20, "around"), Error);
  EXPECT_THROW(ports.reserve(0xffff, 2, "past the end"), Error);
  EXPECT_THROW(ports.reserve(0x500, 0, "empty"), Error);
  EXPECT_EQ(ports.owner_of(0x3fa), "com1");
  EXPECT_EQ(ports.owner_of(0x403), "next-door");
  EXPECT_FALSE(ports.owner_of(0x404).has_value());
  EXPECT_FALSE(ports.owner_of(0x3f7).has_value());
}

TEST(AddressAllocator, AllocatesAlignedFirstFitAndRunsOutCleanly) {
  AddressAllocator mmio("virtio-mmio", 0xd0000000, 0x4000);
  mmio.reserve(0xd0001000, 0x1000, "fixed");
  EXPECT_EQ(mmio.allocate(0x1000, 0x1000, "a"), 0xd0000000u);
  EXPECT_EQ(mmio.allocate(0x1000, 0x1000, "b"), 0xd0002000u);  // skips the fixed window
  EXPECT_EQ(mmio.allocate(0x800, 0x800, "c"), 0xd0003000u);
  EXPECT_EQ(mmio.allocate(0x800, 0x800, "d"), 0xd0003800u);
  try {
    (void)mmio.allocate(0x1000, 0x1000, "e");
    ADD_FAILURE() << "allocation past the end succeeded";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no room"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)mmio.allocate(0x10, 3, "bad alignment"), Error);
}

TEST(AddressAllocator, AllocationNearTheTopOfTheSpaceDoesNotWrap) {
  AddressAllocator top("top", 0xffff'ffff'ffff'0000ULL, 0xffff);
  top.reserve(0xffff'ffff'ffff'0000ULL, 0xff00, "most");
  EXPECT_THROW((void)top.allocate(0x1000, 0x1000, "too big"), ConfigError);
}

TEST(IdAllocator, ReservesAllocatesFromCandidatesAndRunsOut) {
  IdAllocator gsis("interrupt line", 0, 23);
  gsis.reserve(4, "com1");
  EXPECT_THROW(gsis.reserve(4, "again"), Error);
  EXPECT_THROW(gsis.reserve(24, "outside"), Error);
  const std::array<uint32_t, 3> candidates{4, 5, 6};
  EXPECT_EQ(gsis.allocate("a", candidates), 5u);
  EXPECT_EQ(gsis.allocate("b", candidates), 6u);
  EXPECT_THROW((void)gsis.allocate("c", candidates), ConfigError);
  EXPECT_EQ(gsis.allocate("any"), 0u);
  IdAllocator slots("PCI slot", 1, 2);
  EXPECT_EQ(slots.allocate("x"), 1u);
  EXPECT_EQ(slots.allocate("y"), 2u);
  EXPECT_THROW((void)slots.allocate("z"), ConfigError);
}

}  // namespace
}  // namespace vmm
