#pragma once
// An address-range map from guest port-I/O or MMIO addresses to devices. Registration refuses
// overlapping ranges. Accesses to unclaimed addresses read as all-ones and writes are dropped:
// a guest probing hardware we do not emulate must never stop the VM.
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "vmm/bus/bus_device.hpp"

namespace vmm {

class Bus final {
 public:
  explicit Bus(std::string name) : name_(std::move(name)) {}

  // Throws vmm::Error when the range is empty, wraps around, or overlaps another device.
  void insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t len);
  // Removes the range that starts at `base`; false if there is none.
  bool remove(uint64_t base);

  // Dispatch an access. False when no device claims the address (reads then see 0xff bytes).
  // An access that starts inside a device's range but runs past its end is refused as well.
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  struct Range {
    uint64_t base;
    uint64_t len;
    std::shared_ptr<BusDevice> device;
  };
  // Returns the range containing [addr, addr+size) or nullptr. Caller holds the lock.
  [[nodiscard]] const Range* find(uint64_t addr, uint64_t size) const noexcept;

  std::string name_;
  mutable std::shared_mutex mutex_;  // writers only at setup and on PCI BAR moves
  std::vector<Range> ranges_;        // sorted by base, non-overlapping
};

}  // namespace vmm
