#pragma once
// The functions the VM builder calls, arm64's side: the same names as every architecture's
// (vmm/arch/arch.hpp picks the one being built), defined in kvm/ (built on arm64 hosts only)
// over the pure boot code beside this file. The platform devices (an MMIO 16550, the PL031,
// debug-exit) are still to be wired.
#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "arch/aarch64/device_tree.hpp"
#include "arch/aarch64/kvm_abi.hpp"
#include "arch/aarch64/memory_layout.hpp"
#include "vmm/arch/firmware_info.hpp"
#include "vmm/arch/kernel_config.hpp"
#include "vmm/arch/platform_device.hpp"
#include "vmm/kvm/kvm.hpp"
#include "vmm/kvm/vcpu_fd.hpp"
#include "vmm/kvm/vm_fd.hpp"
#include "vmm/memory/guest_memory.hpp"

namespace vmm::arch {

// The platform's fixed places and interrupt lines, under the names the device manager and the
// VM builder use on every architecture. An interrupt line is a GIC SPI number.
namespace layout {
inline constexpr uint32_t kIrqLineCount = aarch64::kMaxSpi + 1;
// INTA# of device `slot` (the device tree's interrupt-map swizzle, pin A).
[[nodiscard]] constexpr uint32_t pci_intx_line(uint32_t slot) noexcept {
  return aarch64::kPciIntxFirstSpi + slot % 4;
}
inline constexpr uint64_t kPciMmioStart = aarch64::kPciMmioBase;
inline constexpr uint64_t kPciMmioEnd = aarch64::kPciMmioBase + aarch64::kPciMmioSize;
inline constexpr uint64_t kVirtioMmioStart = aarch64::kVirtioMmioBase;
inline constexpr uint64_t kVirtioMmioSize = aarch64::kVirtioMmioSize;
// The line of each virtio-mmio slot, in slot order.
inline constexpr auto kVirtioMmioIrqs = [] {
  std::array<uint32_t, aarch64::kVirtioMmioSlots> lines{};
  for (uint32_t slot = 0; slot < lines.size(); ++slot) {
    lines[slot] = aarch64::virtio_mmio_slot_spi(slot);
  }
  return lines;
}();
struct ReservedIrqLine {
  uint32_t gsi;
  const char* owner;
};
// The PCI INTx lines, which PCI slots share and no other device may take.
inline constexpr std::array<ReservedIrqLine, 4> kReservedIrqLines{{
    {aarch64::kPciIntxFirstSpi, "PCI INTx"},
    {aarch64::kPciIntxFirstSpi + 1, "PCI INTx"},
    {aarch64::kPciIntxFirstSpi + 2, "PCI INTx"},
    {aarch64::kPciIntxFirstSpi + 3, "PCI INTx"},
}};
}  // namespace layout

// KVM_IRQ_LINE's irq for an interrupt line (an SPI): its type and INTID encoded. irqfds take
// the SPI number itself.
[[nodiscard]] constexpr uint32_t kvm_irq_line(uint32_t line) noexcept {
  return aarch64::irq_line_for_spi(line);
}

// Where the boot vCPU starts (booting.rst): PC at the kernel's entry, x0 the device tree; and
// what the device tree says about the boot (the command line, where the initrd went).
struct BootInfo {
  GuestAddress entry;
  GuestAddress fdt;
  std::string cmdline;
  std::optional<aarch64::FdtInitrd> initrd;
};

// RAM of `ram_bytes` from kRamBase.
[[nodiscard]] GuestMemory create_guest_memory(uint64_t ram_bytes);
// The Image, initrd and command line (which goes in the device tree).
[[nodiscard]] BootInfo load_kernel(const GuestMemory& memory, KernelConfig config);
void write_boot_structures(const GuestMemory& memory);
void setup_vm(const kvm::VmFd& vm);
// The device tree, generated from the platform inventory.
void write_firmware_tables(const GuestMemory& memory, std::span<const PlatformDevice> inventory,
                           const FirmwareInfo& info, const BootInfo& boot);
// The KVM_ARM_VCPU_INIT target (the VM's preferred one) and features every vCPU starts from:
// PSCI 0.2 for CPU_ON, SYSTEM_OFF and SYSTEM_RESET.
struct VcpuDefaults {
  kvm_vcpu_init init;
};
[[nodiscard]] VcpuDefaults vcpu_defaults(const kvm::Kvm& kvm, const kvm::VmFd& vm);
// vCPU `index`: KVM_ARM_VCPU_INIT; the boot vCPU (0) starts at the kernel's entry in EL1h with
// x0 the device tree, the others start powered off until the guest's PSCI CPU_ON.
void configure_vcpu(const kvm::VcpuFd& vcpu, uint32_t index, uint32_t cpu_count,
                    const VcpuDefaults& defaults, const BootInfo& boot);
// The in-kernel GICv3, which needs every vCPU to exist first.
void finish_vm(const kvm::VmFd& vm, uint32_t cpu_count);
[[nodiscard]] std::string vcpu_state_summary(const kvm::VcpuFd& vcpu);

}  // namespace vmm::arch
