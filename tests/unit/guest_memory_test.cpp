#include "vmm/memory/guest_memory.hpp"

#include <gtest/gtest.h>

#include <array>

#include "vmm/common/error.hpp"

namespace vmm {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

TEST(GuestMemory, SmallGuestIsOneRegion) {
  auto mem = GuestMemory::create(64 * kMiB, 3 * kGiB, 4 * kGiB);
  ASSERT_EQ(mem.regions().size(), 1u);
  EXPECT_EQ(mem.ram_size(), 64 * kMiB);
  EXPECT_EQ(mem.end().raw, 64 * kMiB);
}

TEST(GuestMemory, LargeGuestIsSplitAroundTheHole) {
  // 5 GiB: MAP_NORESERVE keeps this cheap; nothing is touched.
  auto mem = GuestMemory::create(5 * kGiB, 3 * kGiB, 4 * kGiB);
  ASSERT_EQ(mem.regions().size(), 2u);
  EXPECT_EQ(mem.regions()[0].start.raw, 0u);
  EXPECT_EQ(mem.regions()[0].size, 3 * kGiB);
  EXPECT_EQ(mem.regions()[1].start.raw, 4 * kGiB);
  EXPECT_EQ(mem.regions()[1].size, 2 * kGiB);
  EXPECT_EQ(mem.ram_size(), 5 * kGiB);
  EXPECT_EQ(mem.end_below(4 * kGiB).raw, 3 * kGiB);
  EXPECT_EQ(mem.end().raw, 6 * kGiB);
  // Above 4 GiB is usable, the hole is not.
  EXPECT_TRUE(mem.write_obj<uint64_t>(GuestAddress(5 * kGiB), 0x1122334455667788ULL));
  EXPECT_EQ(mem.read_obj<uint64_t>(GuestAddress(5 * kGiB)), 0x1122334455667788ULL);
  EXPECT_FALSE(mem.read_obj<uint32_t>(GuestAddress(3 * kGiB)).has_value());
  // A range straddling the hole is refused even though both ends are RAM-adjacent.
  EXPECT_FALSE(mem.span(GuestAddress(3 * kGiB - 4), 8).has_value());
}

TEST(GuestMemory, ReadWriteRoundTrip) {
  auto mem = GuestMemory::create(kMiB, 3 * kGiB, 4 * kGiB);
  const std::array<uint8_t, 4> in{1, 2, 3, 4};
  ASSERT_TRUE(mem.write(GuestAddress(0x1000), in));
  std::array<uint8_t, 4> out{};
  ASSERT_TRUE(mem.read(GuestAddress(0x1000), out));
  EXPECT_EQ(in, out);
  EXPECT_TRUE(mem.fill(GuestAddress(0x1000), 2, 0xee));
  EXPECT_EQ(mem.read_obj<uint16_t>(GuestAddress(0x1000)), 0xeeee);
}

TEST(GuestMemory, BoundsAndOverflowAreRefused) {
  auto mem = GuestMemory::create(kMiB, 3 * kGiB, 4 * kGiB);
  std::array<uint8_t, 8> buf{};
  EXPECT_TRUE(mem.read(GuestAddress(kMiB - 8), buf));
  EXPECT_FALSE(mem.read(GuestAddress(kMiB - 7), buf));
  EXPECT_FALSE(mem.read(GuestAddress(kMiB), buf));
  EXPECT_FALSE(mem.write(GuestAddress(~0ULL - 3), buf));
  EXPECT_FALSE(mem.span(GuestAddress(16), ~0ULL).has_value());
  EXPECT_FALSE(mem.span(GuestAddress(~0ULL), 2).has_value());
  EXPECT_FALSE(mem.fill(GuestAddress(0), kMiB + 1, 0));
  EXPECT_TRUE(mem.span(GuestAddress(kMiB), 0).has_value());  // empty range at the end
  EXPECT_FALSE(GuestAddress(~0ULL).checked_add(1).has_value());
}

// An empty buffer (no storage, a null data pointer) only has its address checked; under UBSan a
// memcpy of it would be an error.
TEST(GuestMemory, EmptyReadsAndWritesCheckOnlyTheAddress) {
  auto mem = GuestMemory::create(1 * kMiB, 3 * kGiB, 4 * kGiB);
  EXPECT_TRUE(mem.read(GuestAddress{0x1000}, std::span<uint8_t>{}));
  EXPECT_TRUE(mem.write(GuestAddress{0x1000}, std::span<const uint8_t>{}));
  EXPECT_FALSE(mem.read(GuestAddress{2 * kMiB}, std::span<uint8_t>{}));
  EXPECT_FALSE(mem.write(GuestAddress{2 * kMiB}, std::span<const uint8_t>{}));
}

TEST(GuestMemory, ZeroSizeIsAConfigError) {
  EXPECT_THROW(GuestMemory::create(0, 3 * kGiB, 4 * kGiB), ConfigError);
}

TEST(GuestMemory, OverlappingRegionsAreRefused) {
  EXPECT_THROW(
      GuestMemory::create_regions({{GuestAddress(0), 0x2000}, {GuestAddress(0x1000), 0x1000}}),
      Error);
}

}  // namespace
}  // namespace vmm
