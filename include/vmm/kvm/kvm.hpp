#pragma once
// The system KVM handle (/dev/kvm). Together with VmFd and VcpuFd this is the only code in the
// project that issues KVM ioctls; everything above it works with plain values.
#include <linux/kvm.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/kvm/vm_fd.hpp"

namespace vmm::kvm {

// Why the host's KVM cannot boot an unmodified guest kernel, if it cannot: a paravirtual KVM
// (kvm_pvm) without a hardware one (kvm_intel or kvm_amd) beside it runs only kernels built
// for it, and a stock kernel would print nothing at all. Looks at the loaded modules under
// `modules_dir` (/sys/module).
[[nodiscard]] std::optional<std::string> unsupported_kvm_reason(
    const std::filesystem::path& modules_dir = "/sys/module");

class Kvm final {
 public:
  // Opens the device and checks the API version and every capability the VMM relies on.
  // Throws ConfigError naming the problem and what the user can do about it.
  static Kvm open(const std::string& path = "/dev/kvm");

  [[nodiscard]] int check_extension(long capability) const;
  [[nodiscard]] uint32_t max_vcpus() const;
  [[nodiscard]] size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
#if defined(__x86_64__)
  [[nodiscard]] std::vector<kvm_cpuid_entry2> supported_cpuid() const;
#endif
  [[nodiscard]] VmFd create_vm() const;

 private:
  explicit Kvm(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
};

}  // namespace vmm::kvm
