#pragma once
// A PCI function as the root complex sees it: configuration space plus the MMIO windows of
// its BARs.
#include <cstdint>
#include <span>

#include "devices/pci/pci_config_space.hpp"

namespace vmm::pci {

class PciDevice {
 public:
  PciDevice() = default;
  PciDevice(const PciDevice&) = delete;
  PciDevice& operator=(const PciDevice&) = delete;
  virtual ~PciDevice() = default;

  [[nodiscard]] virtual PciConfigSpace& config() = 0;
  // Guest configuration accesses; devices with capabilities that have side effects (MSI-X
  // enable, say) override write and call config().write first.
  virtual void config_read(uint16_t offset, std::span<uint8_t> data) {
    config().read(offset, data);
  }
  virtual void config_write(uint16_t offset, std::span<const uint8_t> data) {
    config().write(offset, data);
  }
  virtual void bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) = 0;
  // The guest moved a BAR (or turned decoding on or off: address 0 means unmapped). Devices
  // with ioeventfds inside a BAR re-register them here.
  virtual void bar_mapped(uint8_t /*bar*/, uint64_t /*address*/) {}
};

}  // namespace vmm::pci
