#pragma once
// QEMU's ISA pvpanic device (port 0x505, one byte; ACPI _HID QEMU0001), which Linux drives with
// CONFIG_PVPANIC_MMIO: reads return the events the device understands, a write of PANICKED
// reports a guest kernel panic and ends the VM with StopReason::kGuestPanic, before the guest's
// own `panic=` timeout can turn the panic into a reboot that looks like success.
// CRASH_LOADED (a crash kernel takes over) is only logged: the guest keeps running to dump.
#include <cstdint>
#include <span>

#include "vmm/bus/bus_device.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm::devices {

class PvPanic final : public BusDevice {
 public:
  static constexpr uint16_t kDefaultPort = 0x505;
  static constexpr uint64_t kPortCount = 1;
  static constexpr uint8_t kPanicked = 1U << 0;
  static constexpr uint8_t kCrashLoaded = 1U << 1;

  // `stopper` must outlive the device.
  explicit PvPanic(VmStopper& stopper) : stopper_(stopper) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmStopper& stopper_;
};

}  // namespace vmm::devices
