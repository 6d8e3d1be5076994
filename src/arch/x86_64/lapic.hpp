#pragma once
// Local APIC local-vector-table setup for the PC "virtual wire" mode the MP table announces:
// LINT0 receives the 8259 PIC's interrupts (ExtINT), LINT1 receives NMIs.
#include <linux/kvm.h>

#include <cstdint>

namespace vmm::x86_64 {

// Register offsets inside the 4 KiB APIC page (= offsets in kvm_lapic_state::regs).
inline constexpr uint32_t kApicLvtLint0 = 0x350;
inline constexpr uint32_t kApicLvtLint1 = 0x360;

// LVT delivery mode field, bits 10:8 (Intel SDM vol. 3, 11.5.1).
inline constexpr uint32_t kApicDeliveryModeShift = 8;
inline constexpr uint32_t kApicDeliveryModeMask = 0x7U << kApicDeliveryModeShift;
inline constexpr uint32_t kApicDeliveryModeNmi = 0x4;
inline constexpr uint32_t kApicDeliveryModeExtInt = 0x7;

// Reads/writes one 32-bit little-endian APIC register in the state blob.
[[nodiscard]] uint32_t lapic_register(const kvm_lapic_state& lapic, uint32_t offset) noexcept;
void set_lapic_register(kvm_lapic_state& lapic, uint32_t offset, uint32_t value) noexcept;

// LINT0 = ExtINT, LINT1 = NMI; only the delivery mode bits change, the rest is kept.
void configure_lint(kvm_lapic_state& lapic) noexcept;

}  // namespace vmm::x86_64
