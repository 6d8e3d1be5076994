#pragma once
// The in-kernel GICv3 (KVM_DEV_TYPE_ARM_VGIC_V3) at memory_layout.hpp's addresses: one
// distributor, one redistributor per vCPU, SPIs 0..kMaxSpi. Built on arm64 hosts only.
#include <cstdint>

#include "arch/aarch64/memory_layout.hpp"
#include "vmm/kvm/device_fd.hpp"
#include "vmm/kvm/vm_fd.hpp"

namespace vmm::aarch64 {

// The number of interrupt IDs the GIC is given: SGIs and PPIs (32), then the SPIs.
[[nodiscard]] constexpr uint32_t gic_interrupt_count() noexcept { return 32 + kMaxSpi + 1; }
static_assert(gic_interrupt_count() % 32 == 0, "KVM takes the interrupt count in steps of 32");

// Creates and initialises the GIC. Every vCPU must exist already (KVM sizes the redistributors
// from them) and none may have run. Throws a ConfigError for more vCPUs than the
// redistributor region holds, and a system_error naming the step KVM refused.
kvm::DeviceFd create_gic_v3(const kvm::VmFd& vm, uint32_t vcpu_count);

}  // namespace vmm::aarch64
