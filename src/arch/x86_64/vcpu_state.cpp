#include <fmt/format.h>

#include "arch/x86_64/arch.hpp"

namespace vmm::arch {

std::string vcpu_state_summary(const kvm::VcpuFd& vcpu) {
  const auto regs = vcpu.get_regs();
  const auto sregs = vcpu.get_sregs();
  return fmt::format("rip={:#x} rsp={:#x} cr0={:#x} cr3={:#x} cr4={:#x} efer={:#x}", regs.rip,
                     regs.rsp, sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer);
}

}  // namespace vmm::arch
