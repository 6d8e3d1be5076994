#include "arch/x86_64/lapic.hpp"

#include <cstring>

namespace vmm::x86_64 {

static_assert(kApicLvtLint1 + sizeof(uint32_t) <= sizeof(kvm_lapic_state::regs));

// An offset past the 1 KiB blob reads as 0 and is not written, rather than overrunning it.
uint32_t lapic_register(const kvm_lapic_state& lapic, uint32_t offset) noexcept {
  uint32_t value = 0;
  if (offset + sizeof(value) > sizeof(lapic.regs)) return 0;
  std::memcpy(&value, &lapic.regs[offset], sizeof(value));
  return value;
}

void set_lapic_register(kvm_lapic_state& lapic, uint32_t offset, uint32_t value) noexcept {
  if (offset + sizeof(value) > sizeof(lapic.regs)) return;
  std::memcpy(&lapic.regs[offset], &value, sizeof(value));
}

namespace {

void set_delivery_mode(kvm_lapic_state& lapic, uint32_t offset, uint32_t mode) noexcept {
  const uint32_t old = lapic_register(lapic, offset);
  set_lapic_register(lapic, offset,
                     (old & ~kApicDeliveryModeMask) | (mode << kApicDeliveryModeShift));
}

}  // namespace

void configure_lint(kvm_lapic_state& lapic) noexcept {
  set_delivery_mode(lapic, kApicLvtLint0, kApicDeliveryModeExtInt);
  set_delivery_mode(lapic, kApicLvtLint1, kApicDeliveryModeNmi);
}

}  // namespace vmm::x86_64
