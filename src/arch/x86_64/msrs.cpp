#include "arch/x86_64/msrs.hpp"

namespace vmm::x86_64 {

namespace {

kvm_msr_entry msr(uint32_t index, uint64_t data) noexcept {
  kvm_msr_entry entry{};
  entry.index = index;
  entry.data = data;
  return entry;
}

}  // namespace

std::vector<kvm_msr_entry> boot_msrs() {
  return {
      msr(kMsrIa32SysenterCs, 0),
      msr(kMsrIa32SysenterEsp, 0),
      msr(kMsrIa32SysenterEip, 0),
      msr(kMsrStar, 0),
      msr(kMsrCstar, 0),
      msr(kMsrKernelGsBase, 0),
      msr(kMsrSyscallMask, 0),
      msr(kMsrLstar, 0),
      msr(kMsrIa32MiscEnable, kMiscEnableFastString),
      msr(kMsrMtrrDefType, kMtrrDefTypeEnable | kMtrrTypeWriteBack),
  };
}

}  // namespace vmm::x86_64
