#pragma once
// A device that claims a range of port-I/O or MMIO addresses. It sees the offset into its
// range and the access width through the span's size (1, 2, 4 or 8 bytes, little-endian).
// Calls arrive from vCPU threads, possibly several at once: devices lock what they share.
#include <cstdint>
#include <span>

namespace vmm {

class BusDevice {
 public:
  BusDevice() = default;
  BusDevice(const BusDevice&) = delete;
  BusDevice& operator=(const BusDevice&) = delete;
  virtual ~BusDevice() = default;

  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

}  // namespace vmm
