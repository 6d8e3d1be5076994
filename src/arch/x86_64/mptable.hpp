#pragma once
// Intel MultiProcessor Specification 1.4 tables: how a guest without ACPI learns its CPUs,
// its IOAPIC and how ISA (and later PCI) interrupt lines reach IOAPIC pins.
//
// Placement: the configuration table at kEbdaStart, the floating pointer at
// kMpFloatingPointerAddr (639 KiB, where Linux scans for it); both below kBiosStart, in memory
// the e820 map must report as reserved.
#include <cstddef>
#include <cstdint>
#include <span>

#include "vmm/memory/guest_memory.hpp"

namespace vmm::x86_64 {

// A PCI INTx line wired to an IOAPIC pin: the extension point for a future PCI host bridge.
struct MpPciInterrupt {
  uint8_t device = 0;      // device number on PCI bus 0, 0..31
  uint8_t pin = 0;         // 0 = INTA# .. 3 = INTD#
  uint8_t ioapic_pin = 0;  // IOAPIC input, below kIoapicPins
};

inline constexpr uint8_t kMpPciBusId = 0;
inline constexpr uint8_t kMpIsaBusId = 1;
inline constexpr uint8_t kMpIsaIrqCount = 16;
inline constexpr uint8_t kMpIoapicVersion = 0x11;
inline constexpr uint8_t kMpLocalApicVersion = 0x14;  // integrated xAPIC

// Sizes from MP spec 1.4, chapter 4.
inline constexpr std::size_t kMpFloatingPointerSize = 16;
inline constexpr std::size_t kMpConfigHeaderSize = 44;
inline constexpr std::size_t kMpProcessorEntrySize = 20;
inline constexpr std::size_t kMpSmallEntrySize = 8;  // bus, IOAPIC, interrupt entries

// Entry type codes (first byte of each entry).
inline constexpr uint8_t kMpEntryProcessor = 0;
inline constexpr uint8_t kMpEntryBus = 1;
inline constexpr uint8_t kMpEntryIoapic = 2;
inline constexpr uint8_t kMpEntryIoInterrupt = 3;
inline constexpr uint8_t kMpEntryLocalInterrupt = 4;

// Interrupt types of I/O and local interrupt entries.
inline constexpr uint8_t kMpIntTypeInt = 0;
inline constexpr uint8_t kMpIntTypeNmi = 1;
inline constexpr uint8_t kMpIntTypeExtInt = 3;

inline constexpr uint8_t kMpCpuEnabled = 1U << 0;
inline constexpr uint8_t kMpCpuBootstrap = 1U << 1;

// Bytes of the configuration table for this many vCPUs and PCI routes.
[[nodiscard]] std::size_t mp_config_table_size(uint32_t cpu_count,
                                               std::size_t pci_interrupt_count) noexcept;

// The largest vCPU count whose table fits (and whose IOAPIC ID, = cpu_count, stays below the
// 0xff broadcast ID).
[[nodiscard]] uint32_t mptable_max_cpus(std::size_t pci_interrupt_count = 0) noexcept;

// Writes both structures. Throws vmm::ConfigError when cpu_count is 0 or above
// mptable_max_cpus(), vmm::Error for an invalid PCI route or when the area is not guest RAM.
void write_mptable(const GuestMemory& mem, uint32_t cpu_count,
                   std::span<const MpPciInterrupt> pci_interrupts = {});

}  // namespace vmm::x86_64
