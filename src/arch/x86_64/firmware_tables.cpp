#include "arch/x86_64/acpi_tables.hpp"
#include "arch/x86_64/arch.hpp"
#include "arch/x86_64/cpuid.hpp"
#include "arch/x86_64/mptable.hpp"
#include "arch/x86_64/platform_tables.hpp"
#include "arch/x86_64/smbios.hpp"

namespace vmm::arch {

void write_firmware_tables(const GuestMemory& memory, std::span<const PlatformDevice> inventory,
                           const FirmwareInfo& info, const BootInfo& /*boot*/) {
  // The guest learns the platform from tables made from the inventory: ACPI for kernels that
  // have it, the MP table for those booted with acpi=off or built without ACPI.
  x86_64::write_mptable(memory, info.cpu_count, x86_64::mp_pci_interrupts(inventory));
  (void)x86_64::write_acpi_tables(memory, x86_64::acpi_platform(inventory, info.cpu_count));
  // SMBIOS: who made the machine (vmm) and which one it is (a UUID, also its serial number).
  x86_64::SmbiosInfo smbios;
  smbios.uuid = info.uuid;
  smbios.serial = to_string(smbios.uuid);
  smbios.acpi = true;
  smbios.memory_bytes = info.memory_bytes;
  smbios.cpu_count = info.cpu_count;
  smbios.cpu_version = x86_64::host_cpu_brand();
  x86_64::write_smbios(memory, smbios);
}

}  // namespace vmm::arch
