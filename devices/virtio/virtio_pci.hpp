#pragma once
// The virtio PCI transport, modern interface only (virtio 1.2, 4.1): one PCI function per
// device with the common, notify, ISR and device-configuration capabilities in BAR 0, MSI-X
// (table and PBA in the same BAR) delivered through irqfds, legacy INTx as the fallback, and
// queue notifications through ioeventfds so a kick does not exit to user space.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "devices/pci/msix.hpp"
#include "devices/pci/pci_device.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/devices/ioevent_registrar.hpp"
#include "vmm/devices/irq_line.hpp"
#include "vmm/devices/msi_router.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/device_state.hpp"
#include "vmm/virtio/virtio_device.hpp"

namespace vmm::virtio {

// BAR 0 layout.
inline constexpr uint32_t kPciBarSize = 0x8000;
inline constexpr uint32_t kPciCommonCfgOffset = 0x0000;
inline constexpr uint32_t kPciCommonCfgSize = 0x40;
inline constexpr uint32_t kPciIsrOffset = 0x1000;
inline constexpr uint32_t kPciDeviceCfgOffset = 0x2000;
inline constexpr uint32_t kPciDeviceCfgSize = 0x1000;
inline constexpr uint32_t kPciNotifyOffset = 0x3000;
inline constexpr uint32_t kPciNotifyMultiplier = 4;
inline constexpr uint32_t kPciMsixTableOffset = 0x4000;
inline constexpr uint32_t kPciMsixPbaOffset = 0x6000;
inline constexpr uint16_t kNoVector = 0xffff;

class VirtioPciDevice final : public pci::PciDevice, private VirtioInterrupt {
 public:
  // `intx` may be null (no legacy interrupt wired).
  VirtioPciDevice(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory, MsiRouter& msi,
                  IoEventRegistrar& ioevents, IrqLine* intx);
  ~VirtioPciDevice() override;

  pci::PciConfigSpace& config() override { return config_; }
  void config_write(uint16_t offset, std::span<const uint8_t> data) override;
  void bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) override;
  void bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) override;
  void bar_mapped(uint8_t bar, uint64_t address) override;

  // Stops the device model (VM shutdown): it no longer touches guest memory afterwards.
  void shutdown();

 private:
  // VirtioInterrupt, called by the device model from its own thread.
  void signal_used_queue(uint16_t queue) override;
  void signal_config_change() override;
  void set_device_needs_reset() override;
  [[nodiscard]] int queue_interrupt_eventfd(uint16_t queue) override;
  void raise(uint16_t vector, uint8_t isr_bit);

  void common_read(uint64_t offset, std::span<uint8_t> data);
  void common_write(uint64_t offset, std::span<const uint8_t> data);
  void activate();      // caller holds mutex_
  void reset_device();  // caller holds mutex_
  void move_ioevents(uint64_t notify_address);

  std::shared_ptr<VirtioDevice> device_;
  const GuestMemory& memory_;
  IoEventRegistrar& ioevents_;
  IrqLine* intx_;
  pci::PciConfigSpace config_;
  pci::Msix msix_;
  std::mutex mutex_;  // register accesses from vCPU threads
  VirtioDeviceState state_;
  uint32_t device_feature_select_ = 0;
  uint32_t driver_feature_select_ = 0;
  std::atomic<uint16_t> config_vector_{kNoVector};
  std::vector<std::atomic<uint16_t>> queue_vectors_;
  std::atomic<uint8_t> isr_{0};
  std::atomic<uint32_t> config_generation_{0};
  std::vector<UniqueFd> queue_eventfds_;
  std::vector<int> queue_eventfd_numbers_;
  uint64_t notify_address_ = 0;  // where the ioeventfds are registered, 0 if nowhere
  bool active_ = false;
};

}  // namespace vmm::virtio
