#pragma once
// virtio-mmio version 2 (virtio 1.2, 4.2): the register window a guest finds through
// `virtio_mmio.device=<size>@<base>:<irq>` on its command line. A BusDevice on the MMIO bus;
// the feature, status and queue rules live in VirtioDeviceState, the device model behind
// VirtioDevice.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "vmm/bus/bus_device.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/devices/irq_line.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/device_state.hpp"
#include "vmm/virtio/virtio_device.hpp"

namespace vmm::virtio {

class VirtioMmioTransport final : public BusDevice, private VirtioInterrupt {
 public:
  static constexpr uint64_t kWindowSize = 0x200;
  static constexpr uint64_t kQueueNotifyOffset = 0x50;
  static constexpr uint32_t kInterruptUsedBuffer = 1;
  static constexpr uint32_t kInterruptConfigChange = 2;

  // `memory` and `irq` must outlive the transport. Throws vmm::Error when eventfds cannot be
  // created.
  VirtioMmioTransport(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory,
                      IrqLine& irq);
  ~VirtioMmioTransport() override;

  // Stops the device model (VM shutdown) while the event loop it uses still runs: it no longer
  // touches guest memory afterwards, and its destruction has nothing left to stop.
  void shutdown();

  // One eventfd per queue. The VMM registers each with KVM as an ioeventfd on
  // base + kQueueNotifyOffset, 4 bytes, datamatch = queue index, so kicks skip user space;
  // without that, writes to QueueNotify reach write() and are forwarded to the same eventfd.
  [[nodiscard]] int queue_eventfd(uint16_t queue) const noexcept;
  [[nodiscard]] size_t num_queues() const noexcept { return eventfds_.size(); }

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  [[nodiscard]] uint8_t status() const noexcept { return state_.status(); }
  [[nodiscard]] uint32_t interrupt_status() const noexcept { return interrupt_status_.load(); }

 private:
  // VirtioInterrupt, called by the device from its own threads: atomics only, no mutex_.
  void signal_used_queue(uint16_t queue) override;
  void signal_config_change() override;
  void set_device_needs_reset() override;
  void raise(uint32_t bits);

  [[nodiscard]] uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value);
  void reset_locked();

  std::shared_ptr<VirtioDevice> device_;
  const GuestMemory& memory_;
  IrqLine& irq_;
  std::vector<UniqueFd> eventfds_;
  std::vector<int> eventfd_numbers_;

  std::mutex mutex_;  // register accesses from vCPUs
  VirtioDeviceState state_;
  uint32_t device_features_select_ = 0;
  uint32_t driver_features_select_ = 0;
  bool active_ = false;
  std::atomic<uint32_t> interrupt_status_{0};
  std::mutex irq_mutex_;  // orders line changes against the status bits
};

}  // namespace vmm::virtio
