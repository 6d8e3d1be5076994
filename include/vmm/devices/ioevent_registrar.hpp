#pragma once
// Lets a device have guest writes to an address signal an eventfd inside the kernel (a KVM
// ioeventfd), so a queue kick wakes the device's thread without a VM exit to user space.
#include <cstdint>

namespace vmm {

class IoEventRegistrar {
 public:
  IoEventRegistrar() = default;
  IoEventRegistrar(const IoEventRegistrar&) = delete;
  IoEventRegistrar& operator=(const IoEventRegistrar&) = delete;
  virtual ~IoEventRegistrar() = default;

  // MMIO writes of `len` bytes at `address` signal `eventfd`. Throws vmm::Error on failure.
  virtual void register_mmio(int eventfd, uint64_t address, uint32_t len) = 0;
  virtual void unregister_mmio(int eventfd, uint64_t address, uint32_t len) = 0;
};

}  // namespace vmm
