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

  // One register by its KVM_{GET,SET}_ONE_REG id (64-bit registers only): how arm64 reaches
  // every register, and how any architecture reaches the odd one.
  [[nodiscard]] uint64_t get_one_reg(uint64_t id) const;
  void set_one_reg(uint64_t id, uint64_t value) const;

#if defined(__aarch64__)
  // KVM_ARM_VCPU_INIT: resets the vCPU to `init`'s target with its features (PSCI, power off).
  void arm_init(const kvm_vcpu_init& init) const;
#endif

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
