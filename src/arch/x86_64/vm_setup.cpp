#include "arch/x86_64/arch.hpp"

namespace vmm::arch {

GuestMemory create_guest_memory(uint64_t ram_bytes) {
  return GuestMemory::create(ram_bytes, x86_64::kMmioHoleStart, x86_64::kMmioHoleEnd);
}

void setup_vm(const kvm::VmFd& vm) {
  vm.set_identity_map_address(x86_64::kKvmIdentityMapAddr);
  vm.set_tss_address(x86_64::kKvmTssAddr);
  vm.create_irqchip();
  vm.create_pit();
}

}  // namespace vmm::arch
