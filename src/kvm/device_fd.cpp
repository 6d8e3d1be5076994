#include "vmm/kvm/device_fd.hpp"

#include <linux/kvm.h>

#include "kvm/ioctl.hpp"

namespace vmm::kvm {

void DeviceFd::set_attr(uint32_t group, uint64_t attr, const void* value) const {
  kvm_device_attr a{};
  a.group = group;
  a.attr = attr;
  a.addr = reinterpret_cast<uint64_t>(value);
  checked_ioctl(fd_.get(), KVM_SET_DEVICE_ATTR, &a, "KVM_SET_DEVICE_ATTR");
}

bool DeviceFd::has_attr(uint32_t group, uint64_t attr) const noexcept {
  kvm_device_attr a{};
  a.group = group;
  a.attr = attr;
  return ::ioctl(fd_.get(), KVM_HAS_DEVICE_ATTR, &a) == 0;
}

}  // namespace vmm::kvm
