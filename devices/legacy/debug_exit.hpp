#pragma once
// A port compatible with QEMU's isa-debug-exit device (iobase 0xf4, iosize 4): a test guest
// writes a value v (1, 2 or 4 bytes, little-endian) to end the VM with exit status (v << 1) | 1.
//
// A process exit status has 8 bits, so the status is reduced mod 256, exactly what a shell sees
// from QEMU: v = 3 exits 7, v = 0x80 exits 1. The status is always odd, so a guest can never
// fake a clean exit 0 through this port. Reads return all-ones.
#include <cstdint>
#include <span>

#include "vmm/bus/bus_device.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm::devices {

class DebugExit final : public BusDevice {
 public:
  static constexpr uint16_t kDefaultPort = 0xf4;
  static constexpr uint64_t kPortCount = 4;

  // `stopper` must outlive the device.
  explicit DebugExit(VmStopper& stopper) : stopper_(stopper) {}

  // The exit status a written value maps to.
  [[nodiscard]] static constexpr int exit_status(uint64_t value) noexcept {
    return static_cast<int>(((value << 1) | 1) & 0xff);
  }

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmStopper& stopper_;
};

}  // namespace vmm::devices
