#pragma once
// The functions the VM builder calls, x86-64's side: every architecture declares these names
// (vmm/arch/arch.hpp picks the one being built), so the builder never calls x86 code itself.
#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "arch/x86_64/linux_boot.hpp"
#include "vmm/arch/firmware_info.hpp"
#include "vmm/arch/kernel_config.hpp"
#include "vmm/arch/platform_device.hpp"
#include "vmm/kvm/kvm.hpp"
#include "vmm/kvm/vcpu_fd.hpp"
#include "vmm/kvm/vm_fd.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::arch {

// The fixed places the builder and the device manager use: virtio-mmio windows and their
// lines, the PCI BAR window, and the interrupt lines of the in-kernel irqchip.
// The platform's fixed places and interrupt lines, under the names the device manager and the
// VM builder use on every architecture.
namespace layout {
// Interrupt lines 0..kIrqLineCount-1 (IOAPIC pins); MSI routes take GSIs from there up.
inline constexpr uint32_t kIrqLineCount = x86_64::kIoapicPins;
// The line of INTA# of PCI slot `slot` (1..31).
[[nodiscard]] constexpr uint32_t pci_intx_line(uint32_t slot) noexcept {
  return x86_64::kPciIntxFirstPin + (slot - 1) % 8;
}
using x86_64::kPciMmioEnd;
using x86_64::kPciMmioStart;
using x86_64::kVirtioMmioIrqs;
using x86_64::kVirtioMmioSize;
using x86_64::kVirtioMmioStart;

// Lines the platform uses without a device of the VMM's. IOAPIC pin 2 is the PIC cascade on a
// PC; KVM's default routing sends GSI n to pin n, so the PIT's IRQ 0 stays on pin 0 and no
// interrupt source override is declared (as in the MP table).
struct ReservedIrqLine {
  uint32_t gsi;
  const char* owner;
};
inline constexpr std::array<ReservedIrqLine, 2> kReservedIrqLines{{{0, "PIT"}, {2, "PIC cascade"}}};
}  // namespace layout

// KVM_IRQ_LINE's irq for an interrupt line: the GSI itself.
[[nodiscard]] constexpr uint32_t kvm_irq_line(uint32_t line) noexcept { return line; }

// Where the boot vCPU starts: the kernel's 64-bit entry and the zero page.
using BootInfo = x86_64::LinuxBootInfo;

// RAM of `ram_bytes`, split around the 32-bit MMIO hole.
[[nodiscard]] GuestMemory create_guest_memory(uint64_t ram_bytes);

// Loads kernel, initrd and command line (and the zero page, which points at the ACPI RSDP).
// Throws vmm::ConfigError for every user error.
[[nodiscard]] BootInfo load_kernel(const GuestMemory& memory, KernelConfig config);

// What the kernel's entry needs in memory besides itself: the boot GDT and identity page tables.
void write_boot_structures(const GuestMemory& memory);

// KVM's VM-wide state, before memory and vCPUs: TSS and identity-map pages, the in-kernel
// irqchip and PIT.
void setup_vm(const kvm::VmFd& vm);

// The MP table, ACPI tables and SMBIOS, generated from the platform inventory.
void write_firmware_tables(const GuestMemory& memory, std::span<const PlatformDevice> inventory,
                           const FirmwareInfo& info, const BootInfo& boot);

// What every vCPU starts from, read from KVM once: the CPUID it supports and the boot MSRs.
struct VcpuDefaults {
  std::vector<kvm_cpuid_entry2> cpuid;
  std::vector<kvm_msr_entry> msrs;
};
[[nodiscard]] VcpuDefaults vcpu_defaults(const kvm::Kvm& kvm, const kvm::VmFd& vm);

// vCPU `index` of `cpu_count`: CPUID, MSRs and LAPIC; the boot vCPU (0) also starts at the
// kernel's entry in long mode, the others wait for INIT/SIPI from the guest.
void configure_vcpu(const kvm::VcpuFd& vcpu, uint32_t index, uint32_t cpu_count,
                    const VcpuDefaults& defaults, const BootInfo& boot);

// KVM's VM-wide state that needs every vCPU to exist first: nothing on x86-64.
inline void finish_vm(const kvm::VmFd& /*vm*/, uint32_t /*cpu_count*/) {}

// Where a stopped vCPU was (instruction and stack pointers, paging state), for the log.
[[nodiscard]] std::string vcpu_state_summary(const kvm::VcpuFd& vcpu);

}  // namespace vmm::arch
