#pragma once
// The VM's platform inventory: every device with the ports, MMIO windows, interrupt line and
// PCI slot it holds, placed on the buses through one resource allocator. The firmware tables
// the guest reads (MP table, ACPI) are generated from this inventory, so what the guest is
// told always matches what the buses answer.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/arch/platform_device.hpp"
#include "vmm/bus/bus.hpp"
#include "vmm/bus/bus_device.hpp"
#include "vmm/resource_allocator.hpp"

namespace vmm {

class DeviceManager {
 public:
  // The buses must outlive the manager.
  DeviceManager(Bus& pio, Bus& mmio);

  // A device at a fixed, well-known port range, with the interrupt line it uses (if any).
  void add_port_device(std::string id, PlatformDeviceKind kind, std::shared_ptr<BusDevice> device,
                       uint16_t port, uint16_t count, std::optional<uint32_t> gsi = std::nullopt);
  // A device at a fixed, well-known MMIO window (an arm64 platform's UART, say).
  void add_mmio_device(std::string id, PlatformDeviceKind kind, std::shared_ptr<BusDevice> device,
                       uint64_t base, uint64_t size, std::optional<uint32_t> gsi = std::nullopt);
  // An entry for resources without a bus device of their own (the power button's line).
  void add_resource_only(std::string id, PlatformDeviceKind kind, std::optional<uint32_t> gsi);

  // A virtio-mmio transport: allocate_virtio_mmio claims a window and an edge interrupt line
  // (the transport needs the line before it exists); add_virtio_mmio maps the transport there.
  struct MmioPlacement {
    uint64_t base = 0;
    uint64_t size = 0;
    uint32_t gsi = 0;
  };
  MmioPlacement allocate_virtio_mmio(const std::string& id);
  void add_virtio_mmio(std::string id, MmioPlacement placement,
                       std::shared_ptr<BusDevice> transport, uint64_t window_size);
  // Claims the next PCI slot and the INTA# line it is wired to; record_pci_device enters the
  // device once the PCI root has placed it there.
  struct PciPlacement {
    uint8_t slot = 0;
    uint32_t gsi = 0;
  };
  PciPlacement allocate_pci_slot(const std::string& id);
  void record_pci_device(std::string id, PciPlacement placement);

  [[nodiscard]] const std::vector<PlatformDevice>& inventory() const noexcept { return devices_; }
  [[nodiscard]] const PlatformDevice* find(PlatformDeviceKind kind) const noexcept;

 private:
  Bus& pio_;
  Bus& mmio_;
  AddressAllocator ports_;
  AddressAllocator mmio_space_;
  IdAllocator gsis_;
  IdAllocator pci_slots_;
  std::vector<PlatformDevice> devices_;
};

}  // namespace vmm
