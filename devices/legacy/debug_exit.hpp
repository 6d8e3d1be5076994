#pragma once
// A port compatible with QEMU's isa-debug-exit device (iobase 0xf4, iosize 4): a test guest
// writes a value v (1, 2 or 4 bytes, little-endian) to end the VM, and the outcome carries v.
// (The CLI turns it into QEMU's exit status (v << 1) | 1.) Reads return all-ones.
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

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmStopper& stopper_;
};

}  // namespace vmm::devices
