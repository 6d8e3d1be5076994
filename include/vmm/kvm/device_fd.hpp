#pragma once
// A device KVM emulates in the kernel (KVM_CREATE_DEVICE): arm64's GIC, for one. It is set up
// through attributes; the device lives as long as the VM, whether or not this fd stays open.
#include <cstdint>

#include "vmm/common/unique_fd.hpp"

namespace vmm::kvm {

class DeviceFd final {
 public:
  explicit DeviceFd(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

  // KVM_SET_DEVICE_ATTR: the kernel reads the attribute's value from `value`.
  void set_attr(uint32_t group, uint64_t attr, const void* value) const;
  // KVM_HAS_DEVICE_ATTR: whether this kernel knows the attribute.
  [[nodiscard]] bool has_attr(uint32_t group, uint64_t attr) const noexcept;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace vmm::kvm
