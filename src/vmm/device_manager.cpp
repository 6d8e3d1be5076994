#include "vmm/device_manager.hpp"

#include <fmt/format.h>

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm {
namespace {

namespace layout = x86_64;

// PCI configuration mechanism #1: 0xcf8 (address) and 0xcfc (data), 8 ports in all.
constexpr uint16_t kPciConfigPorts = 0xcf8;
constexpr uint16_t kPciConfigPortCount = 8;
constexpr uint8_t kPciMaxSlot = 31;
// IOAPIC pin 2 is the PIC cascade on a PC. KVM's default routing sends GSI n to pin n, so the
// PIT's IRQ 0 stays on pin 0 and no interrupt source override is declared (as in the MP table).
constexpr uint32_t kCascadeGsi = 2;

x86_64::AcpiIsaDevice isa(const PlatformDevice& d, std::string name, std::string hid,
                          uint32_t uid) {
  x86_64::AcpiIsaDevice out{
      .name = std::move(name), .hid = std::move(hid), .uid = uid, .io = {}, .irq = std::nullopt};
  out.io.push_back(
      {.base = static_cast<uint16_t>(d.io_base), .size = static_cast<uint16_t>(d.io_size)});
  if (d.gsi) out.irq = static_cast<uint8_t>(*d.gsi);
  return out;
}

}  // namespace

DeviceManager::DeviceManager(Bus& pio, Bus& mmio)
    : pio_(pio),
      mmio_(mmio),
      ports_("I/O port", 0, 0x10000),
      mmio_space_("virtio-mmio", layout::kVirtioMmioStart,
                  layout::kVirtioMmioSize * layout::kVirtioMmioIrqs.size()),
      gsis_("interrupt line", 0, layout::kIoapicPins - 1),
      pci_slots_("PCI slot", 1, kPciMaxSlot) {
  // Lines the platform uses without a device of ours.
  gsis_.reserve(0, "PIT");
  gsis_.reserve(kCascadeGsi, "PIC cascade");
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
  // INTA# of slot s on IOAPIC pin 16 + (s - 1) % 8: level-triggered and shared, as PCI INTx is.
  const uint32_t gsi = layout::kPciIntxFirstPin + (slot - 1) % 8;
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

x86_64::AcpiPlatform DeviceManager::acpi_platform(uint32_t cpu_count) const {
  x86_64::AcpiPlatform p;
  p.cpu_count = cpu_count;
  p.lapic_addr = layout::kLapicAddr;
  p.ioapic_id =
      static_cast<uint8_t>(cpu_count);  // the ID after the last APIC ID, as in the MP table
  p.ioapic_addr = layout::kIoapicAddr;
  for (const auto& d : devices_) {
    switch (d.kind) {
      case PlatformDeviceKind::kSerial:
        p.isa_devices.push_back(isa(d, "COM1", "PNP0501", 0));
        break;
      case PlatformDeviceKind::kI8042:
        // One device for both ports: the data port at 0x60 and the command port at 0x64.
        if (auto* kbd = [&]() -> x86_64::AcpiIsaDevice* {
              for (auto& e : p.isa_devices) {
                if (e.name == "KBD_") return &e;
              }
              return nullptr;
            }()) {
          kbd->io.push_back(
              {.base = static_cast<uint16_t>(d.io_base), .size = static_cast<uint16_t>(d.io_size)});
          if (d.gsi) kbd->irq = static_cast<uint8_t>(*d.gsi);
        } else {
          p.isa_devices.push_back(isa(d, "KBD_", "PNP0303", 0));
        }
        break;
      case PlatformDeviceKind::kRtc:
        p.isa_devices.push_back(isa(d, "RTC_", "PNP0B00", 0));
        break;
      case PlatformDeviceKind::kPvPanic:
        p.isa_devices.push_back(isa(d, "PEVT", "QEMU0001", 0));
        break;
      case PlatformDeviceKind::kAcpiPower:
        p.pm = {.sleep_control_port = static_cast<uint16_t>(d.io_base),
                .sleep_status_port = static_cast<uint16_t>(d.io_base + 1),
                .reset_port = static_cast<uint16_t>(d.io_base + 2),
                .reset_value = 1};
        break;
      case PlatformDeviceKind::kPowerButton:
        if (d.gsi) p.power_button_gsi = *d.gsi;
        break;
      case PlatformDeviceKind::kPciHost: {
        x86_64::AcpiPciHost host;
        host.mmio_base = layout::kPciMmioStart;
        host.mmio_size = layout::kPciMmioEnd - layout::kPciMmioStart;
        // Every port but the configuration ports is forwarded to PCI.
        host.io_windows.push_back({.base = 0, .size = kPciConfigPorts});
        host.io_windows.push_back({.base = kPciConfigPorts + kPciConfigPortCount,
                                   .size = 0xffff - (kPciConfigPorts + kPciConfigPortCount) + 1});
        p.pci = std::move(host);
        break;
      }
      case PlatformDeviceKind::kVirtioMmio:
        p.virtio_mmio.push_back(
            {.base = d.mmio_base, .size = d.mmio_size, .gsi = d.gsi.value_or(0)});
        break;
      case PlatformDeviceKind::kVirtioPci:
      case PlatformDeviceKind::kDebugExit:
        break;
    }
  }
  if (p.pci) {
    // Routes for every slot, so a device's INTA# resolves wherever the guest finds it; the
    // swizzle matches allocate_pci_slot.
    for (uint8_t slot = 1; slot <= kPciMaxSlot; ++slot) {
      for (uint8_t pin = 0; pin < 4; ++pin) {
        p.pci->routes.push_back(
            {.slot = slot,
             .pin = pin,
             .gsi = layout::kPciIntxFirstPin + static_cast<uint32_t>((slot - 1 + pin) % 8)});
      }
    }
  }
  return p;
}

std::vector<x86_64::MpPciInterrupt> DeviceManager::mp_pci_interrupts() const {
  std::vector<x86_64::MpPciInterrupt> out;
  for (const auto& d : devices_) {
    if (d.kind != PlatformDeviceKind::kVirtioPci || !d.pci_slot || !d.gsi) continue;
    out.push_back({.device = *d.pci_slot, .pin = 0, .ioapic_pin = static_cast<uint8_t>(*d.gsi)});
  }
  return out;
}

}  // namespace vmm
