#include "devices/legacy/rtc.hpp"

#include <gtest/gtest.h>

#include <array>
#include <ctime>

namespace vmm::devices {
namespace {

// 2026-11-30 10:20:30 UTC, a Monday.
constexpr std::time_t kFixedTime = 1796034030;

class RtcTest : public ::testing::Test {
 protected:
  uint8_t reg(uint8_t index) {
    uint8_t b = index;
    rtc.write(0, std::span<const uint8_t>(&b, 1));
    rtc.read(1, std::span(&b, 1));
    return b;
  }
  void set_reg(uint8_t index, uint8_t value) {
    rtc.write(0, std::span<const uint8_t>(&index, 1));
    rtc.write(1, std::span<const uint8_t>(&value, 1));
  }

  std::time_t now = kFixedTime;
  Rtc rtc{[this] { return now; }};
};

TEST(RtcClock, FixedTimeIsWhatTheTestsAssume) {
  std::tm tm{};
  ASSERT_NE(gmtime_r(&kFixedTime, &tm), nullptr);
  EXPECT_EQ(tm.tm_year + 1900, 2026);
  EXPECT_EQ(tm.tm_mon + 1, 11);
  EXPECT_EQ(tm.tm_mday, 30);
  EXPECT_EQ(tm.tm_hour, 10);
  EXPECT_EQ(tm.tm_min, 20);
  EXPECT_EQ(tm.tm_sec, 30);
}

TEST_F(RtcTest, BcdByDefault) {
  EXPECT_EQ(reg(Rtc::kSeconds), 0x30);
  EXPECT_EQ(reg(Rtc::kMinutes), 0x20);
  EXPECT_EQ(reg(Rtc::kHours), 0x10);
  EXPECT_EQ(reg(Rtc::kDayOfWeek), 0x02);  // Monday; Sunday is 1
  EXPECT_EQ(reg(Rtc::kDayOfMonth), 0x30);
  EXPECT_EQ(reg(Rtc::kMonth), 0x11);
  EXPECT_EQ(reg(Rtc::kYear), 0x26);
  EXPECT_EQ(reg(Rtc::kCentury), 0x20);
}

TEST_F(RtcTest, BinaryWhenGuestSetsDm) {
  set_reg(Rtc::kRegB, Rtc::kRegB24Hour | Rtc::kRegBBinary);
  EXPECT_EQ(reg(Rtc::kRegB), Rtc::kRegB24Hour | Rtc::kRegBBinary);
  EXPECT_EQ(reg(Rtc::kSeconds), 30);
  EXPECT_EQ(reg(Rtc::kMinutes), 20);
  EXPECT_EQ(reg(Rtc::kHours), 10);
  EXPECT_EQ(reg(Rtc::kDayOfMonth), 30);
  EXPECT_EQ(reg(Rtc::kMonth), 11);
  EXPECT_EQ(reg(Rtc::kYear), 26);
  EXPECT_EQ(reg(Rtc::kCentury), 20);
}

TEST_F(RtcTest, TwelveHourMode) {
  set_reg(Rtc::kRegB, 0);  // BCD, 12-hour
  EXPECT_EQ(reg(Rtc::kHours), 0x10);
  now = kFixedTime + 5 * 3600;  // 15:20 -> 3 PM
  EXPECT_EQ(reg(Rtc::kHours), 0x80 | 0x03);
  now = kFixedTime + 14 * 3600;  // 00:20 next day -> 12 AM
  EXPECT_EQ(reg(Rtc::kHours), 0x12);
  EXPECT_EQ(reg(Rtc::kDayOfMonth), 0x01);
  EXPECT_EQ(reg(Rtc::kMonth), 0x12);
}

TEST_F(RtcTest, FollowsTheClock) {
  now += 1;
  EXPECT_EQ(reg(Rtc::kSeconds), 0x31);
}

TEST_F(RtcTest, CenturyRollsOver) {
  now = 4102444800;  // 2100-01-01 00:00:00 UTC
  EXPECT_EQ(reg(Rtc::kCentury), 0x21);
  EXPECT_EQ(reg(Rtc::kYear), 0x00);
}

TEST_F(RtcTest, StatusRegisters) {
  EXPECT_EQ(reg(Rtc::kRegA), 0x26);
  EXPECT_EQ(reg(Rtc::kRegA) & Rtc::kRegAUpdateInProgress, 0);
  EXPECT_EQ(reg(Rtc::kRegB), Rtc::kRegB24Hour);
  EXPECT_EQ(reg(Rtc::kRegD), 0x80);
  set_reg(Rtc::kRegD, 0);
  EXPECT_EQ(reg(Rtc::kRegD), 0x80);  // read-only
  EXPECT_EQ(reg(Rtc::kRegC), 0x00);
}

TEST_F(RtcTest, NmiBitOfIndexIgnored) { EXPECT_EQ(reg(0x80 | Rtc::kMonth), 0x11); }

TEST_F(RtcTest, CmosRamAndIgnoredClockWrites) {
  set_reg(0x0e, 0xab);
  set_reg(0x7f, 0xcd);
  set_reg(Rtc::kSeconds, 0x59);
  EXPECT_EQ(reg(0x0e), 0xab);
  EXPECT_EQ(reg(0x7f), 0xcd);
  EXPECT_EQ(reg(0x40), 0x00);
  EXPECT_EQ(reg(Rtc::kSeconds), 0x30);
}

TEST_F(RtcTest, WordAccessSetsIndexAndData) {
  const std::array<uint8_t, 2> w{0x20, 0x77};  // outw(0x70): index 0x20, data 0x77
  rtc.write(0, w);
  EXPECT_EQ(reg(0x20), 0x77);
}

TEST(RtcHostClock, MatchesSystemTime) {
  Rtc rtc;
  const std::time_t before = std::time(nullptr);
  uint8_t b = Rtc::kYear;
  rtc.write(0, std::span<const uint8_t>(&b, 1));
  rtc.read(1, std::span(&b, 1));
  std::tm tm{};
  ASSERT_NE(gmtime_r(&before, &tm), nullptr);
  const int year = tm.tm_year % 100;
  EXPECT_EQ(b, ((year / 10) << 4) | (year % 10));
}

}  // namespace
}  // namespace vmm::devices
