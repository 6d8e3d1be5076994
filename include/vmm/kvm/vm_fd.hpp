#pragma once
// A KVM virtual machine: memory slots, the in-kernel interrupt controllers and timer,
// interrupt injection (lines, irqfd, MSI routes) and ioeventfds.
#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>

#include "vmm/common/unique_fd.hpp"
#include "vmm/kvm/device_fd.hpp"
#include "vmm/kvm/vcpu_fd.hpp"

namespace vmm::kvm {

class VmFd final {
 public:
  explicit VmFd(UniqueFd fd, size_t vcpu_mmap_size) noexcept
      : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

#if defined(__x86_64__)
  void set_tss_address(uint64_t addr) const;
  void set_identity_map_address(uint64_t addr) const;
  // IOAPIC + two PICs + per-vCPU LAPICs, and the i8254 PIT (speaker port handled in-kernel).
  void create_irqchip() const;
  void create_pit() const;
#endif
  void set_user_memory_region(uint32_t slot, uint64_t guest_addr, uint64_t size, void* host) const;
  [[nodiscard]] VcpuFd create_vcpu(uint32_t id) const;
  // An in-kernel device of KVM_DEV_TYPE_* `type`.
  [[nodiscard]] DeviceFd create_device(uint32_t type) const;
#if defined(__aarch64__)
  // KVM_ARM_PREFERRED_TARGET: the vCPU target that best matches the host's CPUs.
  [[nodiscard]] kvm_vcpu_init arm_preferred_target() const;
#endif

  // Level of an interrupt line (GSI) of the in-kernel irqchip.
  void set_irq_line(uint32_t gsi, bool level) const;
  // Delivers an interrupt whenever `eventfd` is signalled, without a trip through user space.
  // With a resample fd the line is level-triggered and re-armed through `resample_eventfd`.
  void register_irqfd(int eventfd, uint32_t gsi, int resample_eventfd = -1) const;
  void unregister_irqfd(int eventfd, uint32_t gsi) const;
  // Guest writes of `len` bytes to `addr` (port or MMIO) signal `eventfd` inside the kernel.
  void register_ioeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio,
                          std::optional<uint64_t> datamatch = std::nullopt) const;
  void unregister_ioeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio,
                            std::optional<uint64_t> datamatch = std::nullopt) const;
  // Replaces the whole GSI routing table (irqchip pins plus MSI routes).
  void set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) const;
  void signal_msi(uint64_t address, uint32_t data) const;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  size_t vcpu_mmap_size_;
};

}  // namespace vmm::kvm
