#pragma once
// IoEventRegistrar over KVM ioeventfds.
#include "vmm/devices/ioevent_registrar.hpp"
#include "vmm/kvm/vm_fd.hpp"

namespace vmm {

class KvmIoEventRegistrar final : public IoEventRegistrar {
 public:
  explicit KvmIoEventRegistrar(const kvm::VmFd& vm) : vm_(vm) {}
  void register_mmio(int eventfd, uint64_t address, uint32_t len) override {
    vm_.register_ioeventfd(eventfd, address, len, false);
  }
  void unregister_mmio(int eventfd, uint64_t address, uint32_t len) override {
    vm_.unregister_ioeventfd(eventfd, address, len, false);
  }

 private:
  const kvm::VmFd& vm_;
};

}  // namespace vmm
