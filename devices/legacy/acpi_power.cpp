#include "devices/legacy/acpi_power.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vmm::devices {

void AcpiPowerRegisters::read(uint64_t /*offset*/, std::span<uint8_t> data) {
  // Sleep status never reports a wake event (WAK_STS) because the VM never sleeps.
  std::fill(data.begin(), data.end(), uint8_t{0});
}

void AcpiPowerRegisters::write(uint64_t offset, std::span<const uint8_t> data) {
  // The registers are one byte wide; a wider access is read by its first byte, as the FADT
  // declares byte access.
  if (data.empty()) return;
  const uint8_t value = data[0];
  switch (offset) {
    case kSleepControlOffset: {
      if ((value & kSleepEnable) == 0) return;
      const unsigned type = (value >> kSleepTypeShift) & kSleepTypeMask;
      if (type == kS5SleepType) {
        spdlog::info("ACPI: the guest powered off (S5)");
        stopper_.request_stop({.reason = StopReason::kGuestPowerOff});
      } else {
        spdlog::warn("ACPI: the guest asked for sleep type {}, which this VM does not offer", type);
      }
      return;
    }
    case kSleepStatusOffset:
      return;  // clearing WAK_STS: nothing to clear
    case kResetOffset:
      if (value == kResetValue) {
        spdlog::info("ACPI: the guest reset the machine");
        stopper_.request_stop({.reason = StopReason::kGuestReset});
      }
      return;
    default:
      return;
  }
}

}  // namespace vmm::devices
