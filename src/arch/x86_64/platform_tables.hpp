#pragma once
// The x86-64 firmware tables' view of the platform inventory: the ACPI platform description
// and the MP table's PCI interrupt routes, so what the guest is told matches what the buses
// answer.
#include <cstdint>
#include <span>
#include <vector>

#include "arch/x86_64/acpi_tables.hpp"
#include "arch/x86_64/mptable.hpp"
#include "vmm/arch/platform_device.hpp"

namespace vmm::x86_64 {

[[nodiscard]] AcpiPlatform acpi_platform(std::span<const PlatformDevice> inventory,
                                         uint32_t cpu_count);
[[nodiscard]] std::vector<MpPciInterrupt> mp_pci_interrupts(
    std::span<const PlatformDevice> inventory);

}  // namespace vmm::x86_64
