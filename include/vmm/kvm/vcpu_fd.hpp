#pragma once
// One virtual CPU: its register state and KVM_RUN.
#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/kvm/vcpu_exit.hpp"

namespace vmm::kvm {

class VcpuFd final {
 public:
  VcpuFd(UniqueFd fd, size_t mmap_size);  // maps the kvm_run page
  VcpuFd(const VcpuFd&) = delete;
  VcpuFd& operator=(const VcpuFd&) = delete;
  VcpuFd(VcpuFd&& other) noexcept;
  VcpuFd& operator=(VcpuFd&& other) noexcept;
  ~VcpuFd();

  // Runs the vCPU until the next exit that user space must handle. A signal (the stop kick)
  // or immediate_exit gives Kind::kInterrupted.
  [[nodiscard]] VcpuExit run();
  // Makes the next (or current) KVM_RUN return at once. Safe from a signal handler.
  void set_immediate_exit(bool value) noexcept;
  // Tells a kvm-clock guest that this vCPU was stopped by the host (KVM_KVMCLOCK_CTRL), so its
  // watchdogs do not take the pause for a soft lockup. False when the guest does not use
  // kvm-clock (EINVAL) or the host lacks the ioctl.
  bool notify_guest_paused() noexcept;

#if defined(__x86_64__)
  // x86-64 register state; arm64 reaches its registers through KVM_{GET,SET}_ONE_REG.
  [[nodiscard]] kvm_regs get_regs() const;
  void set_regs(const kvm_regs& regs) const;
  [[nodiscard]] kvm_sregs get_sregs() const;
  void set_sregs(const kvm_sregs& sregs) const;
  void set_fpu(const kvm_fpu& fpu) const;
  void set_cpuid(std::span<const kvm_cpuid_entry2> entries) const;
  void set_msrs(std::span<const kvm_msr_entry> entries) const;
  [[nodiscard]] kvm_lapic_state get_lapic() const;
  void set_lapic(const kvm_lapic_state& lapic) const;
#endif

 private:
  void unmap() noexcept;
  UniqueFd fd_;
  kvm_run* run_ = nullptr;
  size_t mmap_size_ = 0;
};

}  // namespace vmm::kvm
