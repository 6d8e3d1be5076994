#pragma once
// A whole virtual machine: KVM objects, guest memory, buses, devices and vCPU threads, built
// from a VmConfig. Construction either yields a VM ready to run or throws and leaves nothing
// behind (every part is an RAII member, destroyed in reverse order).
#include <memory>
#include <vector>

#include "vmm/vm_config.hpp"

namespace vmm {

class Vm final {
 public:
  explicit Vm(const VmConfig& config);
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;
  ~Vm();

  // Runs the guest until it stops; returns the process exit status (see README).
  int run();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace vmm
