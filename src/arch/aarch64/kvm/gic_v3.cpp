#include "arch/aarch64/kvm/gic_v3.hpp"

#include <linux/kvm.h>

#include <string>

#include "vmm/common/error.hpp"

namespace vmm::aarch64 {

kvm::DeviceFd create_gic_v3(const kvm::VmFd& vm, uint32_t vcpu_count) {
  if (vcpu_count == 0 || vcpu_count > kMaxVcpus) {
    throw ConfigError("cpus", std::to_string(vcpu_count) + " is more than the GICv3's " +
                                  std::to_string(kMaxVcpus) + " redistributors");
  }
  kvm::DeviceFd gic = vm.create_device(KVM_DEV_TYPE_ARM_VGIC_V3);
  const uint64_t dist = kGicDistBase;
  const uint64_t redist = kGicRedistBase;
  gic.set_attr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
  gic.set_attr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist);
  const uint32_t interrupts = gic_interrupt_count();
  gic.set_attr(KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &interrupts);
  gic.set_attr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, nullptr);
  return gic;
}

}  // namespace vmm::aarch64
