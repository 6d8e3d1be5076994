#pragma once
// Register state for the Linux 64-bit boot protocol entry: long mode with paging on an
// identity map, flat segments from the boot GDT, RSI pointing at boot_params, interrupts off.
#include <linux/kvm.h>

#include <cstdint>

#include "vmm/memory/guest_address.hpp"

namespace vmm::x86_64 {

// Control register and EFER bits (Intel SDM vol. 3, 2.5 and 2.2.1).
inline constexpr uint64_t kCr0Pe = 1ULL << 0;   // protected mode
inline constexpr uint64_t kCr0Et = 1ULL << 4;   // x87 present (hard-wired 1 on modern CPUs)
inline constexpr uint64_t kCr0Ne = 1ULL << 5;   // native x87 error reporting
inline constexpr uint64_t kCr0Pg = 1ULL << 31;  // paging
inline constexpr uint64_t kCr4Pae = 1ULL << 5;
inline constexpr uint64_t kEferLme = 1ULL << 8;   // long mode enable
inline constexpr uint64_t kEferLma = 1ULL << 10;  // long mode active

inline constexpr uint64_t kBootRflags = 0x2;            // bit 1 is reserved and always 1; IF clear
inline constexpr uint16_t kBootFpuControlWord = 0x37f;  // FNINIT default: all exceptions masked
inline constexpr uint32_t kBootMxcsr = 0x1f80;          // reset default: all exceptions masked

// rip = entry, rsi = boot_params (the zero page), rsp = rbp = kBootStackTop, rflags = 0x2.
[[nodiscard]] kvm_regs boot_regs(GuestAddress entry, GuestAddress boot_params) noexcept;

// Puts `sregs` (as read from KVM_GET_SREGS, so fields such as apic_base keep KVM's values)
// into 64-bit mode: segments from the boot GDT, GDTR/IDTR at kGdtAddr/kIdtAddr,
// CR0 = PE|ET|NE|PG (caching enabled), CR3 = kPml4Addr, CR4 = PAE, EFER = LME|LMA.
void set_long_mode_sregs(kvm_sregs& sregs) noexcept;

// x87/SSE state after FNINIT with the reset MXCSR.
[[nodiscard]] kvm_fpu boot_fpu() noexcept;

}  // namespace vmm::x86_64
