#pragma once
// ACPI tables for an x86-64 guest: RSDP, XSDT, a hardware-reduced FADT, MADT and a DSDT that
// describes the platform (PCI host bridge, legacy ISA devices, virtio-mmio devices, the
// power button and the _S5 sleep state). Everything comes from an AcpiPlatform description,
// which the device manager derives from its inventory; nothing here knows a fixed address
// except through that description.
//
// Power management follows the hardware-reduced model (ACPI 6.x, 4.1): no PM1 blocks, no SCI;
// the FADT points the sleep control, sleep status and reset registers at three I/O ports, and
// the power button is a GED (ACPI0013) interrupt whose _EVT notifies a PNP0C0C device.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vmm/memory/guest_memory.hpp"

namespace vmm::x86_64 {

struct AcpiIoRange {
  uint16_t base = 0;
  uint16_t size = 0;
};

// A legacy device on the ISA/LPC side, described in the DSDT under \_SB.
struct AcpiIsaDevice {
  std::string name;  // 4-character ACPI name: COM1, KBD_, RTC_, PEVT
  std::string hid;   // EISA ID (PNP0501) or ACPI ID (QEMU0001)
  uint32_t uid = 0;
  std::vector<AcpiIoRange> io;
  std::optional<uint8_t> irq;  // ISA IRQ, edge-triggered active high (IRQNoFlags)
};

// A virtio-mmio device: HID LNRO0005, one memory window and one edge interrupt.
struct AcpiVirtioMmio {
  uint64_t base = 0;
  uint64_t size = 0;
  uint32_t gsi = 0;
};

// PCI INTx routing for _PRT: INT{A..D} of `slot` goes to `gsi` (level, shared).
struct AcpiPciRoute {
  uint8_t slot = 0;
  uint8_t pin = 0;  // 0 = INTA .. 3 = INTD
  uint32_t gsi = 0;
};

// The PCI host bridge (PNP0A08/PNP0A03), configuration through ports 0xcf8..0xcff.
struct AcpiPciHost {
  uint64_t mmio_base = 0;  // the 32-bit BAR window, described in _CRS
  uint64_t mmio_size = 0;
  std::vector<AcpiIoRange> io_windows;  // I/O ranges forwarded to PCI (all but 0xcf8..0xcff)
  std::vector<AcpiPciRoute> routes;
};

// The three one-byte I/O registers of the hardware-reduced power management block.
struct AcpiPmRegisters {
  uint16_t sleep_control_port = 0;
  uint16_t sleep_status_port = 0;
  uint16_t reset_port = 0;
  uint8_t reset_value = 0;
};

// The S5 sleep type vmm's sleep control register understands: a write of
// (kAcpiS5SleepType << 2) | kAcpiSleepEnable powers the VM off.
inline constexpr uint8_t kAcpiS5SleepType = 5;
inline constexpr uint8_t kAcpiSleepTypeShift = 2;
inline constexpr uint8_t kAcpiSleepEnable = 1U << 5;

struct AcpiPlatform {
  uint32_t cpu_count = 1;  // MADT: one enabled processor-local APIC per vCPU, APIC ID = index
  uint64_t lapic_addr = 0;
  uint8_t ioapic_id = 0;
  uint64_t ioapic_addr = 0;
  // MADT interrupt source overrides: ISA IRQ -> GSI (edge, active high; e.g. the PIT, 0 -> 2).
  std::vector<std::pair<uint8_t, uint32_t>> isa_overrides;
  std::vector<AcpiIsaDevice> isa_devices;
  std::vector<AcpiVirtioMmio> virtio_mmio;
  std::optional<AcpiPciHost> pci;
  AcpiPmRegisters pm;
  uint32_t power_button_gsi = 0;  // the GED's interrupt: edge, active high
};

// OEM identification written into every table header.
inline constexpr const char* kAcpiOemId = "VMM   ";         // 6 characters
inline constexpr const char* kAcpiOemTableId = "VMMVIRT ";  // 8 characters
inline constexpr const char* kAcpiCreatorId = "VMM ";       // 4 characters
inline constexpr uint32_t kAcpiOemRevision = 1;
inline constexpr uint32_t kAcpiCreatorRevision = 1;

// The tables as bytes, each with its final length and checksum, laid out for `rsdp_addr`:
// RSDP at rsdp_addr, then XSDT, FADT, MADT, DSDT, each 8-byte aligned, in that order.
struct AcpiTables {
  uint64_t rsdp_addr = 0;
  std::vector<uint8_t> rsdp, xsdt, fadt, madt, dsdt;
  // Guest-physical address of each table; the pointers inside the tables use these.
  uint64_t xsdt_addr = 0, fadt_addr = 0, madt_addr = 0, dsdt_addr = 0;
  [[nodiscard]] uint64_t end() const noexcept;  // first byte after the DSDT
};

// Builds every table. Throws vmm::Error when the description is invalid (an ACPI name that is
// not 4 characters of [A-Z0-9_], no vCPU, more vCPUs than xAPIC IDs allow).
[[nodiscard]] AcpiTables build_acpi_tables(const AcpiPlatform& platform, uint64_t rsdp_addr);

// Builds the tables for kAcpiRsdpAddr and writes them into guest memory. Throws vmm::Error
// when they do not fit below kAcpiTablesEnd or that range is not guest RAM. Returns the RSDP's
// address (for boot_params.acpi_rsdp_addr).
GuestAddress write_acpi_tables(const GuestMemory& mem, const AcpiPlatform& platform);

}  // namespace vmm::x86_64
