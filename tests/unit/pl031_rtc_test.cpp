// The PL031 clock of arm64 guests: the host's seconds in RTCDR, the guest's RTCLR moving only
// its own view, the AMBA ids Linux matches its driver by, and no register reached by an access
// of another width or alignment.
#include "devices/legacy/pl031_rtc.hpp"

#include <gtest/gtest.h>

#include <array>
#include <ctime>
#include <vector>

namespace vmm::devices {
namespace {

constexpr std::time_t kFixedTime = 1796034030;  // 2026-11-30 10:20:30 UTC

class Pl031RtcTest : public ::testing::Test {
 protected:
  uint32_t reg(uint64_t offset) {
    std::array<uint8_t, 4> b{0xff, 0xff, 0xff, 0xff};
    rtc.read(offset, b);
    return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
           (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }
  void set_reg(uint64_t offset, uint32_t value) {
    const std::array<uint8_t, 4> b{static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8),
                                   static_cast<uint8_t>(value >> 16),
                                   static_cast<uint8_t>(value >> 24)};
    rtc.write(offset, b);
  }

  std::time_t now = kFixedTime;
  Pl031Rtc rtc{[this] { return now; }};
};

TEST_F(Pl031RtcTest, DataRegisterIsTheHostsSecondsAndRuns) {
  EXPECT_EQ(reg(Pl031Rtc::kData), static_cast<uint32_t>(kFixedTime));
  now += 61;
  EXPECT_EQ(reg(Pl031Rtc::kData), static_cast<uint32_t>(kFixedTime + 61));
  EXPECT_EQ(reg(Pl031Rtc::kControl), 1U);
  set_reg(Pl031Rtc::kControl, 0);  // cannot be stopped
  EXPECT_EQ(reg(Pl031Rtc::kControl), 1U);
  set_reg(Pl031Rtc::kData, 5);  // read-only
  EXPECT_EQ(reg(Pl031Rtc::kData), static_cast<uint32_t>(kFixedTime + 61));
}

TEST_F(Pl031RtcTest, LoadMovesTheGuestsViewAndTheCounterKeepsRunning) {
  set_reg(Pl031Rtc::kLoad, 1000);
  EXPECT_EQ(reg(Pl031Rtc::kData), 1000U);
  EXPECT_EQ(reg(Pl031Rtc::kLoad), 1000U);
  now += 5;
  EXPECT_EQ(reg(Pl031Rtc::kData), 1005U);
  // The largest value wraps at 2^32 as the hardware's counter does.
  set_reg(Pl031Rtc::kLoad, 0xffffffffU);
  now += 2;
  EXPECT_EQ(reg(Pl031Rtc::kData), 1U);
}

TEST_F(Pl031RtcTest, MatchAndMaskKeepTheirValuesAndNoInterruptIsRaised) {
  set_reg(Pl031Rtc::kMatch, static_cast<uint32_t>(kFixedTime));
  set_reg(Pl031Rtc::kIrqMask, 0xffffffffU);
  EXPECT_EQ(reg(Pl031Rtc::kMatch), static_cast<uint32_t>(kFixedTime));
  EXPECT_EQ(reg(Pl031Rtc::kIrqMask), 1U);
  EXPECT_EQ(reg(Pl031Rtc::kRawStatus), 0U);
  EXPECT_EQ(reg(Pl031Rtc::kMaskedStatus), 0U);
  set_reg(Pl031Rtc::kIrqClear, 1);
  EXPECT_EQ(reg(Pl031Rtc::kIrqMask), 1U);
}

TEST_F(Pl031RtcTest, AmbaIdsAreThePl031s) {
  uint32_t periph = 0;
  uint32_t cell = 0;
  for (uint64_t i = 0; i < 4; ++i) {
    periph |= reg(Pl031Rtc::kPeriphId0 + 4 * i) << (8 * i);
    cell |= reg(Pl031Rtc::kPeriphId0 + 0x10 + 4 * i) << (8 * i);
  }
  EXPECT_EQ(periph, 0x00041031U);
  EXPECT_EQ(cell, 0xb105f00dU);
}

TEST_F(Pl031RtcTest, OtherWidthsAndAlignmentsReachNothing) {
  std::array<uint8_t, 2> half{0xaa, 0xaa};
  rtc.read(Pl031Rtc::kData, half);
  EXPECT_EQ(half[0], 0);
  EXPECT_EQ(half[1], 0);
  std::array<uint8_t, 8> wide{};
  wide.fill(0xaa);
  rtc.read(Pl031Rtc::kData, wide);
  for (auto b : wide) EXPECT_EQ(b, 0);
  EXPECT_EQ(reg(Pl031Rtc::kData + 1), 0U);
  EXPECT_EQ(reg(Pl031Rtc::kWindowSize), 0U);
  EXPECT_EQ(reg(0x100), 0U);
  const std::array<uint8_t, 1> one{7};
  rtc.write(Pl031Rtc::kLoad, one);
  set_reg(Pl031Rtc::kLoad + 2, 7);
  EXPECT_EQ(reg(Pl031Rtc::kData), static_cast<uint32_t>(kFixedTime));
}

}  // namespace
}  // namespace vmm::devices
