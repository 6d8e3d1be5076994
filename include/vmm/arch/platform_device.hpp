#pragma once
// One entry of the VM's platform inventory: a device with the ports, MMIO window, interrupt
// line and PCI slot it holds. The device manager keeps the inventory; each architecture's
// firmware tables are generated from it.
#include <cstdint>
#include <optional>
#include <string>

namespace vmm {

// What a device is, as far as the firmware tables care.
enum class PlatformDeviceKind {
  kSerial,       // 16550A UART (COM1)
  kI8042,        // keyboard controller (reset line)
  kRtc,          // CMOS real-time clock
  kDebugExit,    // isa-debug-exit compatible port
  kPvPanic,      // QEMU0001
  kAcpiPower,    // hardware-reduced sleep control/status and reset registers
  kPowerButton,  // GED interrupt line that notifies the ACPI power button
  kPciHost,      // configuration ports of PCI bus 0
  kVirtioMmio,   // a virtio-mmio transport window
  kVirtioPci,    // a virtio device on PCI bus 0
};

struct PlatformDevice {
  PlatformDevice(std::string device_id, PlatformDeviceKind device_kind)
      : id(std::move(device_id)), kind(device_kind) {}
  std::string id;
  PlatformDeviceKind kind;
  uint64_t io_base = 0;  // port I/O range, when io_size > 0
  uint64_t io_size = 0;
  uint64_t mmio_base = 0;  // MMIO window, when mmio_size > 0
  uint64_t mmio_size = 0;
  std::optional<uint32_t> gsi;
  std::optional<uint8_t> pci_slot;
};

}  // namespace vmm
