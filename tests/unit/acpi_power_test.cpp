// The hardware-reduced ACPI sleep and reset registers, and the pvpanic port: what a guest
// writes decides how the VM ends.
#include "devices/legacy/acpi_power.hpp"

#include <gtest/gtest.h>

#include <array>

#include "devices/legacy/pvpanic.hpp"
#include "support/recording_stopper.hpp"

namespace vmm::devices {
namespace {

using test::RecordingStopper;

void write_byte(BusDevice& dev, uint64_t offset, uint8_t value) {
  const std::array<uint8_t, 1> b{value};
  dev.write(offset, b);
}

TEST(AcpiPowerRegisters, S5WithSleepEnablePowersOff) {
  RecordingStopper stopper;
  AcpiPowerRegisters dev(stopper);
  // What Linux writes: WAK_STS to sleep status, then SLP_TYP=5 | SLP_EN to sleep control.
  write_byte(dev, AcpiPowerRegisters::kSleepStatusOffset, 0x80);
  EXPECT_TRUE(stopper.requests().empty());
  write_byte(dev, AcpiPowerRegisters::kSleepControlOffset, (5U << 2) | (1U << 5));
  ASSERT_EQ(stopper.requests().size(), 1u);
  EXPECT_EQ(stopper.requests()[0].reason, StopReason::kGuestPowerOff);
}

TEST(AcpiPowerRegisters, OtherSleepStatesAndNoEnableKeepRunning) {
  RecordingStopper stopper;
  AcpiPowerRegisters dev(stopper);
  write_byte(dev, AcpiPowerRegisters::kSleepControlOffset, 5U << 2);                // no SLP_EN
  write_byte(dev, AcpiPowerRegisters::kSleepControlOffset, (3U << 2) | (1U << 5));  // S3
  write_byte(dev, AcpiPowerRegisters::kSleepControlOffset, 0xff & ~(1U << 5));
  EXPECT_TRUE(stopper.requests().empty());
}

TEST(AcpiPowerRegisters, ResetValueResetsAndOthersDoNot) {
  RecordingStopper stopper;
  AcpiPowerRegisters dev(stopper);
  write_byte(dev, AcpiPowerRegisters::kResetOffset, 0x06);
  EXPECT_TRUE(stopper.requests().empty());
  write_byte(dev, AcpiPowerRegisters::kResetOffset, AcpiPowerRegisters::kResetValue);
  ASSERT_EQ(stopper.requests().size(), 1u);
  EXPECT_EQ(stopper.requests()[0].reason, StopReason::kGuestReset);
}

TEST(AcpiPowerRegisters, ReadsZeroAndIgnoresEmptyOrOutOfRangeAccesses) {
  RecordingStopper stopper;
  AcpiPowerRegisters dev(stopper);
  std::array<uint8_t, 2> out{0xaa, 0xbb};
  dev.read(AcpiPowerRegisters::kSleepStatusOffset, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 0);
  dev.write(0, std::span<const uint8_t>{});
  write_byte(dev, 7, AcpiPowerRegisters::kResetValue);
  EXPECT_TRUE(stopper.requests().empty());
}

TEST(PvPanic, AdvertisesItsEventsAndAPanicEndsTheVm) {
  RecordingStopper stopper;
  PvPanic dev(stopper);
  std::array<uint8_t, 1> caps{};
  dev.read(0, caps);
  EXPECT_EQ(caps[0], PvPanic::kPanicked | PvPanic::kCrashLoaded);
  write_byte(dev, 0, PvPanic::kCrashLoaded);  // a crash kernel takes over: keep running
  EXPECT_TRUE(stopper.requests().empty());
  write_byte(dev, 0, PvPanic::kPanicked);
  ASSERT_EQ(stopper.requests().size(), 1u);
  EXPECT_EQ(stopper.requests()[0].reason, StopReason::kGuestPanic);
}

}  // namespace
}  // namespace vmm::devices
