// arm64's vCPU functions of the arch seam (vmm/arch/arch.hpp): KVM_ARM_VCPU_INIT with PSCI,
// and the boot vCPU's registers at the kernel's entry (Documentation/arch/arm64/booting.rst).
#include <fmt/format.h>
#include <linux/kvm.h>

#include <cstddef>
#include <string>

#include "arch/aarch64/arch.hpp"
#include "arch/aarch64/kvm/gic_v3.hpp"
#include "arch/aarch64/kvm_abi.hpp"

namespace vmm::arch {

// The ids written out in kvm_abi.hpp are the kernel's.
static_assert(aarch64::kRegPc == (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
                                  (offsetof(kvm_regs, regs.pc) / sizeof(uint32_t))));
static_assert(aarch64::kRegPstate == (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
                                      (offsetof(kvm_regs, regs.pstate) / sizeof(uint32_t))));
static_assert(aarch64::x_reg_id(0) == (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
                                       (offsetof(kvm_regs, regs.regs) / sizeof(uint32_t))));
static_assert(aarch64::kRegMpidrEl1 == ARM64_SYS_REG(3, 0, 0, 0, 5));
static_assert(aarch64::kVcpuFeaturePowerOff == KVM_ARM_VCPU_POWER_OFF);
static_assert(aarch64::kVcpuFeaturePsci02 == KVM_ARM_VCPU_PSCI_0_2);
static_assert(aarch64::kIrqTypeSpi == KVM_ARM_IRQ_TYPE_SPI);

VcpuDefaults vcpu_defaults(const kvm::Kvm& /*kvm*/, const kvm::VmFd& vm) {
  VcpuDefaults defaults{vm.arm_preferred_target()};
  defaults.init.features[0] |= 1U << aarch64::kVcpuFeaturePsci02;
  return defaults;
}

void configure_vcpu(const kvm::VcpuFd& vcpu, uint32_t index, uint32_t /*cpu_count*/,
                    const VcpuDefaults& defaults, const BootInfo& boot) {
  kvm_vcpu_init init = defaults.init;
  // Secondary vCPUs wait, powered off, for the guest's PSCI CPU_ON.
  if (index != 0) init.features[0] |= 1U << aarch64::kVcpuFeaturePowerOff;
  vcpu.arm_init(init);
  if (index != 0) return;
  vcpu.set_one_reg(aarch64::kRegPstate, aarch64::kBootPstate);
  vcpu.set_one_reg(aarch64::kRegPc, boot.entry.raw);
  vcpu.set_one_reg(aarch64::x_reg_id(0), boot.fdt.raw);
  // x1..x3 are reserved and must be zero; KVM_ARM_VCPU_INIT has reset them.
}

void finish_vm(const kvm::VmFd& vm, uint32_t cpu_count) {
  // The device stays with the VM when this fd closes.
  (void)aarch64::create_gic_v3(vm, cpu_count);
}

std::string vcpu_state_summary(const kvm::VcpuFd& vcpu) {
  return fmt::format("pc={:#x} pstate={:#x} x0={:#x} sp={:#x}", vcpu.get_one_reg(aarch64::kRegPc),
                     vcpu.get_one_reg(aarch64::kRegPstate), vcpu.get_one_reg(aarch64::x_reg_id(0)),
                     vcpu.get_one_reg(aarch64::kRegSp));
}

}  // namespace vmm::arch
