#pragma once
// The three one-byte registers of a hardware-reduced ACPI platform (ACPI 6.x, 4.8.3.7/4.8.3.6),
// on consecutive I/O ports that the FADT names: sleep control (base), sleep status (base + 1)
// and reset (base + 2). Writing SLP_EN with the S5 sleep type to sleep control powers the VM
// off; writing kResetValue to the reset register resets it. Other sleep states are not offered
// (the DSDT names only _S5), so a guest that asks for them is logged and keeps running.
#include <cstdint>
#include <span>

#include "vmm/bus/bus_device.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm::devices {

class AcpiPowerRegisters final : public BusDevice {
 public:
  static constexpr uint64_t kPortCount = 3;
  static constexpr uint64_t kSleepControlOffset = 0;
  static constexpr uint64_t kSleepStatusOffset = 1;
  static constexpr uint64_t kResetOffset = 2;
  static constexpr uint8_t kResetValue = 0x01;
  // SLP_TYPx (bits 4:2) and SLP_EN (bit 5) of the sleep control register.
  static constexpr uint8_t kSleepTypeShift = 2;
  static constexpr uint8_t kSleepTypeMask = 0x7;
  static constexpr uint8_t kSleepEnable = 1U << 5;
  static constexpr uint8_t kS5SleepType = 5;

  // `stopper` must outlive the device.
  explicit AcpiPowerRegisters(VmStopper& stopper) : stopper_(stopper) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmStopper& stopper_;
};

}  // namespace vmm::devices
