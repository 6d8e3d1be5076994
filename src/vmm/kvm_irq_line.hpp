#pragma once
// An IrqLine wired to an interrupt line of KVM's in-kernel interrupt controllers (an IOAPIC pin
// on x86-64, a GIC SPI on arm64), driven with KVM_IRQ_LINE in the arch's encoding.
#include <cstdint>

#include "vmm/arch/arch.hpp"
#include "vmm/devices/irq_line.hpp"
#include "vmm/kvm/vm_fd.hpp"

namespace vmm {

class KvmIrqLine final : public IrqLine {
 public:
  KvmIrqLine(const kvm::VmFd& vm, uint32_t gsi) : vm_(vm), gsi_(arch::kvm_irq_line(gsi)) {}
  void set_level(bool asserted) override { vm_.set_irq_line(gsi_, asserted); }

 private:
  const kvm::VmFd& vm_;
  uint32_t gsi_;  // as KVM_IRQ_LINE takes it
};

// An edge-triggered line: each assertion delivers one interrupt (ISA-style pins, where a level
// held high would hide the next interrupt from an edge-triggered IOAPIC entry).
class KvmEdgeIrqLine final : public IrqLine {
 public:
  KvmEdgeIrqLine(const kvm::VmFd& vm, uint32_t gsi) : vm_(vm), gsi_(arch::kvm_irq_line(gsi)) {}
  void set_level(bool asserted) override {
    if (!asserted) return;
    vm_.set_irq_line(gsi_, true);
    vm_.set_irq_line(gsi_, false);
  }

 private:
  const kvm::VmFd& vm_;
  uint32_t gsi_;  // as KVM_IRQ_LINE takes it
};

}  // namespace vmm
