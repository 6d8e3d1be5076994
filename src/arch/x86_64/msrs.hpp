#pragma once
// Model-specific registers set before the first KVM_RUN: the syscall MSRs cleared (the kernel
// programs them itself), fast string operations enabled and MTRRs defaulting to write-back,
// so the guest does not run uncached (no firmware exists to program the MTRRs).
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace vmm::x86_64 {

// MSR indices (Intel SDM vol. 4; AMD APM vol. 2 for the syscall MSRs).
inline constexpr uint32_t kMsrIa32SysenterCs = 0x174;
inline constexpr uint32_t kMsrIa32SysenterEsp = 0x175;
inline constexpr uint32_t kMsrIa32SysenterEip = 0x176;
inline constexpr uint32_t kMsrIa32MiscEnable = 0x1a0;
inline constexpr uint32_t kMsrMtrrDefType = 0x2ff;
inline constexpr uint32_t kMsrStar = 0xc0000081;
inline constexpr uint32_t kMsrLstar = 0xc0000082;
inline constexpr uint32_t kMsrCstar = 0xc0000083;
inline constexpr uint32_t kMsrSyscallMask = 0xc0000084;
inline constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

inline constexpr uint64_t kMiscEnableFastString = 1ULL << 0;
inline constexpr uint64_t kMtrrDefTypeEnable = 1ULL << 11;
inline constexpr uint64_t kMtrrTypeWriteBack = 6;

// The list for KVM_SET_MSRS, in a fixed order (index order within each group above).
[[nodiscard]] std::vector<kvm_msr_entry> boot_msrs();

}  // namespace vmm::x86_64
