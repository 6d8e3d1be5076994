#include "arch/x86_64/arch.hpp"
#include "arch/x86_64/cpuid.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/msrs.hpp"
#include "arch/x86_64/regs.hpp"

namespace vmm::arch {
namespace {

constexpr uint32_t kCpuid1EcxTscDeadline = 1U << 24;

}  // namespace

VcpuDefaults vcpu_defaults(const kvm::Kvm& kvm, const kvm::VmFd& /*vm*/) {
  auto supported_cpuid = kvm.supported_cpuid();
  // KVM emulates the LAPIC's TSC-deadline mode but leaves announcing it to the VMM. A guest on
  // hardware-reduced ACPI sets up no PIT to calibrate the LAPIC timer against; in deadline
  // mode it needs no calibration.
  if (kvm.check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0) {
    for (auto& entry : supported_cpuid) {
      if (entry.function == x86_64::kCpuidLeafFeatures) entry.ecx |= kCpuid1EcxTscDeadline;
    }
  }
  return {.cpuid = std::move(supported_cpuid), .msrs = x86_64::boot_msrs()};
}

void configure_vcpu(const kvm::VcpuFd& vcpu, uint32_t index, uint32_t cpu_count,
                    const VcpuDefaults& defaults, const BootInfo& boot) {
  auto cpuid = defaults.cpuid;
  x86_64::configure_cpuid(cpuid, index, cpu_count);
  vcpu.set_cpuid(cpuid);
  vcpu.set_msrs(defaults.msrs);
  auto lapic = vcpu.get_lapic();
  x86_64::configure_lint(lapic);
  vcpu.set_lapic(lapic);
  if (index == 0) {
    // The boot processor starts at the kernel's 64-bit entry; the others wait for INIT/SIPI
    // from the guest, as on real hardware.
    vcpu.set_regs(x86_64::boot_regs(boot.entry, boot.boot_params));
    auto sregs = vcpu.get_sregs();
    x86_64::set_long_mode_sregs(sregs);
    vcpu.set_sregs(sregs);
    vcpu.set_fpu(x86_64::boot_fpu());
  }
}

}  // namespace vmm::arch
