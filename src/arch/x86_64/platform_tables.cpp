#include "arch/x86_64/platform_tables.hpp"

#include <string>
#include <utility>

#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

// PCI configuration mechanism #1: 0xcf8 (address) and 0xcfc (data), 8 ports in all.
constexpr uint16_t kPciConfigPorts = 0xcf8;
constexpr uint16_t kPciConfigPortCount = 8;
constexpr uint8_t kPciMaxSlot = 31;

AcpiIsaDevice isa(const PlatformDevice& d, std::string name, std::string hid, uint32_t uid) {
  AcpiIsaDevice out{
      .name = std::move(name), .hid = std::move(hid), .uid = uid, .io = {}, .irq = std::nullopt};
  out.io.push_back(
      {.base = static_cast<uint16_t>(d.io_base), .size = static_cast<uint16_t>(d.io_size)});
  if (d.gsi) out.irq = static_cast<uint8_t>(*d.gsi);
  return out;
}

}  // namespace

AcpiPlatform acpi_platform(std::span<const PlatformDevice> inventory, uint32_t cpu_count) {
  AcpiPlatform p;
  p.cpu_count = cpu_count;
  p.lapic_addr = kLapicAddr;
  p.ioapic_id =
      static_cast<uint8_t>(cpu_count);  // the ID after the last APIC ID, as in the MP table
  p.ioapic_addr = kIoapicAddr;
  for (const auto& d : inventory) {
    switch (d.kind) {
      case PlatformDeviceKind::kSerial:
        p.isa_devices.push_back(isa(d, "COM1", "PNP0501", 0));
        break;
      case PlatformDeviceKind::kI8042:
        // One device for both ports: the data port at 0x60 and the command port at 0x64.
        if (auto* kbd = [&]() -> AcpiIsaDevice* {
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
        AcpiPciHost host;
        host.mmio_base = kPciMmioStart;
        host.mmio_size = kPciMmioEnd - kPciMmioStart;
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
             .gsi = kPciIntxFirstPin + static_cast<uint32_t>((slot - 1 + pin) % 8)});
      }
    }
  }
  return p;
}

std::vector<MpPciInterrupt> mp_pci_interrupts(std::span<const PlatformDevice> inventory) {
  std::vector<MpPciInterrupt> out;
  for (const auto& d : inventory) {
    if (d.kind != PlatformDeviceKind::kVirtioPci || !d.pci_slot || !d.gsi) continue;
    out.push_back({.device = *d.pci_slot, .pin = 0, .ioapic_pin = static_cast<uint8_t>(*d.gsi)});
  }
  return out;
}

}  // namespace vmm::x86_64
