#pragma once
// An interrupt input of the guest's interrupt controller as a device sees it. The VMM wires
// each line to KVM (KVM_IRQ_LINE or an irqfd); unit tests use a recording fake.
namespace vmm {

class IrqLine {
 public:
  IrqLine() = default;
  IrqLine(const IrqLine&) = delete;
  IrqLine& operator=(const IrqLine&) = delete;
  virtual ~IrqLine() = default;

  // Level-triggered lines (ISA devices on the IOAPIC): raise and lower.
  virtual void set_level(bool asserted) = 0;
  // Edge-triggered delivery: one interrupt.
  virtual void trigger() {
    set_level(true);
    set_level(false);
  }
};

}  // namespace vmm
