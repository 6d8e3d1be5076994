#pragma once
// An IrqLine wired to a GSI of KVM's in-kernel interrupt controllers.
#include <cstdint>

#include "vmm/devices/irq_line.hpp"
#include "vmm/kvm/vm_fd.hpp"

namespace vmm {

class KvmIrqLine final : public IrqLine {
 public:
  KvmIrqLine(const kvm::VmFd& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  void set_level(bool asserted) override { vm_.set_irq_line(gsi_, asserted); }

 private:
  const kvm::VmFd& vm_;
  uint32_t gsi_;
};

}  // namespace vmm
