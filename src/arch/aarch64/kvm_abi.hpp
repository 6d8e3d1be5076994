#pragma once
// How KVM's arm64 interface names registers (KVM_{GET,SET}_ONE_REG ids) and interrupt lines
// (KVM_IRQ_LINE), written out from Documentation/virt/kvm/api.rst so that they build and are
// tested on any host; an arm64 build checks them against <asm/kvm.h>.
#include <cstdint>

namespace vmm::aarch64 {

inline constexpr uint64_t kRegArm64 = 0x6000'0000'0000'0000;
inline constexpr uint64_t kRegSizeU64 = 0x0030'0000'0000'0000;
inline constexpr uint64_t kRegArmCore = uint64_t{0x0010} << 16;
inline constexpr uint64_t kRegArm64SysReg = uint64_t{0x0013} << 16;

// A core register by its byte offset in struct kvm_regs (whose first member is user_pt_regs:
// x0..x30, sp, pc, pstate, 8 bytes each). The id counts 32-bit words.
[[nodiscard]] constexpr uint64_t core_reg_id(uint64_t byte_offset) noexcept {
  return kRegArm64 | kRegSizeU64 | kRegArmCore | (byte_offset / sizeof(uint32_t));
}
[[nodiscard]] constexpr uint64_t x_reg_id(uint32_t n) noexcept { return core_reg_id(8ULL * n); }
inline constexpr uint64_t kRegSp = core_reg_id(8ULL * 31);
inline constexpr uint64_t kRegPc = core_reg_id(8ULL * 32);
inline constexpr uint64_t kRegPstate = core_reg_id(8ULL * 33);

// A system register by its (op0, op1, CRn, CRm, op2) encoding.
[[nodiscard]] constexpr uint64_t sys_reg_id(uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm,
                                            uint32_t op2) noexcept {
  return kRegArm64 | kRegSizeU64 | kRegArm64SysReg |
         (uint64_t{op0} << 14 | uint64_t{op1} << 11 | uint64_t{crn} << 7 | uint64_t{crm} << 3 |
          uint64_t{op2});
}
inline constexpr uint64_t kRegMpidrEl1 = sys_reg_id(3, 0, 0, 0, 5);

// PSTATE at the kernel's entry (booting.rst): EL1 on its own stack pointer (EL1h), with debug,
// SError, IRQ and FIQ masked.
inline constexpr uint64_t kPsrModeEl1h = 0x5;
inline constexpr uint64_t kPsrF = 1U << 6;
inline constexpr uint64_t kPsrI = 1U << 7;
inline constexpr uint64_t kPsrA = 1U << 8;
inline constexpr uint64_t kPsrD = 1U << 9;
inline constexpr uint64_t kBootPstate = kPsrModeEl1h | kPsrD | kPsrA | kPsrI | kPsrF;

// KVM_ARM_VCPU_INIT feature bits (indices into kvm_vcpu_init.features).
inline constexpr uint32_t kVcpuFeaturePowerOff = 0;  // starts stopped, until PSCI CPU_ON
inline constexpr uint32_t kVcpuFeaturePsci02 = 2;    // PSCI 0.2 and later through HVC

// KVM_IRQ_LINE's irq field for a GIC SPI: the type in bits 24..27 and the INTID (SPI + 32) in
// bits 0..15. With an in-kernel GIC, an irqfd's GSI is the SPI number itself.
inline constexpr uint32_t kIrqTypeSpi = 1;
inline constexpr uint32_t kFirstSpiIntid = 32;
[[nodiscard]] constexpr uint32_t irq_line_for_spi(uint32_t spi) noexcept {
  return kIrqTypeSpi << 24 | (spi + kFirstSpiIntid);
}

}  // namespace vmm::aarch64
