#include "vmm/device_manager.hpp"

#include <fmt/format.h>

#include "vmm/arch/arch.hpp"
#include "vmm/common/error.hpp"

namespace vmm {
namespace {

namespace layout = arch::layout;

constexpr uint8_t kPciMaxSlot = 31;

}  // namespace

DeviceManager::DeviceManager(Bus& pio, Bus& mmio)
    : pio_(pio),
      mmio_(mmio),
      ports_("I/O port", 0, 0x10000),
      mmio_space_("virtio-mmio", layout::kVirtioMmioStart,
                  layout::kVirtioMmioSize * layout::kVirtioMmioIrqs.size()),
      gsis_("interrupt line", 0, layout::kIrqLineCount - 1),
      pci_slots_("PCI slot", 1, kPciMaxSlot) {
  // Lines the platform uses without a device of ours.
  for (const auto& line : layout::kReservedIrqLines) gsis_.reserve(line.gsi, line.owner);
}

void DeviceManager::add_port_device(std::string id, PlatformDeviceKind kind,
                                    std::shared_ptr<BusDevice> device, uint16_t port,
                                    uint16_t count, std::optional<uint32_t> gsi) {
  ports_.reserve(port, count, id);
  if (gsi) gsis_.reserve(*gsi, id);
  pio_.insert(std::move(device), port, count);
  PlatformDevice& d = devices_.emplace_back(std::move(id), kind);
  d.io_base = port;
  d.io_size = count;
  d.gsi = gsi;
}

void DeviceManager::add_mmio_device(std::string id, PlatformDeviceKind kind,
                                    std::shared_ptr<BusDevice> device, uint64_t base, uint64_t size,
                                    std::optional<uint32_t> gsi) {
  if (gsi) gsis_.reserve(*gsi, id);
  mmio_.insert(std::move(device), base, size);
  PlatformDevice& d = devices_.emplace_back(std::move(id), kind);
  d.mmio_base = base;
  d.mmio_size = size;
  d.gsi = gsi;
}

void DeviceManager::add_resource_only(std::string id, PlatformDeviceKind kind,
                                      std::optional<uint32_t> gsi) {
  if (gsi) gsis_.reserve(*gsi, id);
  devices_.emplace_back(std::move(id), kind).gsi = gsi;
}

DeviceManager::MmioPlacement DeviceManager::allocate_virtio_mmio(const std::string& id) {
  const uint64_t base = mmio_space_.allocate(layout::kVirtioMmioSize, layout::kVirtioMmioSize, id);
  const uint32_t gsi = gsis_.allocate(id, layout::kVirtioMmioIrqs);
  return {.base = base, .size = layout::kVirtioMmioSize, .gsi = gsi};
}

void DeviceManager::add_virtio_mmio(std::string id, MmioPlacement placement,
                                    std::shared_ptr<BusDevice> transport, uint64_t window_size) {
  if (window_size > placement.size) throw Error(id + ": virtio-mmio window too large");
  mmio_.insert(std::move(transport), placement.base, window_size);
  PlatformDevice& d = devices_.emplace_back(std::move(id), PlatformDeviceKind::kVirtioMmio);
  d.mmio_base = placement.base;
  d.mmio_size = placement.size;
  d.gsi = placement.gsi;
}

DeviceManager::PciPlacement DeviceManager::allocate_pci_slot(const std::string& id) {
  const uint32_t slot = pci_slots_.allocate(id);
  // INTA# lines are level-triggered and shared, as PCI INTx is.
  const uint32_t gsi = layout::pci_intx_line(slot);
  return {.slot = static_cast<uint8_t>(slot), .gsi = gsi};
}

void DeviceManager::record_pci_device(std::string id, PciPlacement placement) {
  PlatformDevice& d = devices_.emplace_back(std::move(id), PlatformDeviceKind::kVirtioPci);
  d.gsi = placement.gsi;
  d.pci_slot = placement.slot;
}

const PlatformDevice* DeviceManager::find(PlatformDeviceKind kind) const noexcept {
  for (const auto& d : devices_) {
    if (d.kind == kind) return &d;
  }
  return nullptr;
}

}  // namespace vmm
