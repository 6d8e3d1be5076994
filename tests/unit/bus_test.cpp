#include "vmm/bus/bus.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "vmm/common/error.hpp"

namespace vmm {
namespace {

class RecordingDevice final : public BusDevice {
 public:
  void read(uint64_t offset, std::span<uint8_t> data) override {
    last_offset = offset;
    for (auto& b : data) b = 0x5a;
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    last_offset = offset;
    written.assign(data.begin(), data.end());
  }
  uint64_t last_offset = ~0ULL;
  std::vector<uint8_t> written;
};

TEST(Bus, DispatchesWithOffset) {
  Bus bus("pio");
  auto dev = std::make_shared<RecordingDevice>();
  bus.insert(dev, 0x3f8, 8);
  std::array<uint8_t, 1> b{};
  EXPECT_TRUE(bus.read(0x3fd, b));
  EXPECT_EQ(dev->last_offset, 5u);
  EXPECT_EQ(b[0], 0x5a);
  const std::array<uint8_t, 2> w{1, 2};
  EXPECT_TRUE(bus.write(0x3fe, w));
  EXPECT_EQ(dev->last_offset, 6u);
  EXPECT_EQ(dev->written, (std::vector<uint8_t>{1, 2}));
}

TEST(Bus, RefusesOverlaps) {
  Bus bus("mmio");
  auto dev = std::make_shared<RecordingDevice>();
  bus.insert(dev, 0x1000, 0x100);
  EXPECT_THROW(bus.insert(dev, 0x1000, 0x100), Error);
  EXPECT_THROW(bus.insert(dev, 0x10ff, 0x10), Error);
  EXPECT_THROW(bus.insert(dev, 0xf00, 0x101), Error);
  EXPECT_THROW(bus.insert(dev, 0x0, 0x10000), Error);
  EXPECT_NO_THROW(bus.insert(dev, 0x1100, 0x10));
  EXPECT_NO_THROW(bus.insert(dev, 0xf00, 0x100));
}

TEST(Bus, RefusesEmptyAndWrappingRanges) {
  Bus bus("mmio");
  auto dev = std::make_shared<RecordingDevice>();
  EXPECT_THROW(bus.insert(dev, 0x1000, 0), Error);
  EXPECT_THROW(bus.insert(dev, ~0ULL - 4, 0x10), Error);
  EXPECT_THROW(bus.insert(nullptr, 0x1000, 1), Error);
}

TEST(Bus, UnclaimedReadsAllOnesAndAccessPastEndIsRefused) {
  Bus bus("pio");
  auto dev = std::make_shared<RecordingDevice>();
  bus.insert(dev, 0x60, 1);
  std::array<uint8_t, 4> b{};
  EXPECT_FALSE(bus.read(0x80, b));
  EXPECT_EQ(b, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
  // A 4-byte read at the device's only port runs past its range.
  EXPECT_FALSE(bus.read(0x60, b));
  EXPECT_FALSE(bus.write(0x61, b));
  EXPECT_EQ(dev->last_offset, ~0ULL);
}

TEST(Bus, RemoveFreesTheRange) {
  Bus bus("mmio");
  auto dev = std::make_shared<RecordingDevice>();
  bus.insert(dev, 0x1000, 0x10);
  EXPECT_TRUE(bus.remove(0x1000));
  EXPECT_FALSE(bus.remove(0x1000));
  std::array<uint8_t, 1> b{};
  EXPECT_FALSE(bus.read(0x1000, b));
  EXPECT_NO_THROW(bus.insert(dev, 0x1008, 0x10));
}

}  // namespace
}  // namespace vmm
