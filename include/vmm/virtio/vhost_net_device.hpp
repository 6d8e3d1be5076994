#pragma once
// virtio-net served by the kernel's vhost-net (`--net tap=NAME,vhost=on`): the same device as
// VirtioNet to the guest (one queue pair, MAC, status and MTU in the configuration space), but
// vmm only sets the data path up. At DRIVER_OK the queues' notify eventfds (KVM ioeventfds)
// become vhost's kick descriptors, and vhost signals each queue's interrupt through the KVM
// irqfd of its MSI-X vector, so neither direction passes through vmm. Where the transport has
// no such eventfd (MMIO, INTx, no vector) vhost signals an eventfd of the device instead, which
// the event loop turns into the transport's interrupt; a vector the driver moves later is
// followed (interrupt_changed()).
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "vmm/common/unique_fd.hpp"
#include "vmm/config/net_config.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/net_tap.hpp"
#include "vmm/virtio/vhost_net.hpp"
#include "vmm/virtio/virtio_device.hpp"

namespace vmm::virtio {

class VhostNetDevice final : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;

  // `loop` must outlive the device.
  VhostNetDevice(std::unique_ptr<TapBackend> tap, std::unique_ptr<VhostNet> vhost,
                 const MacAddress& mac, EventLoop& loop, uint16_t mtu = 1500);
  ~VhostNetDevice() override;

  [[nodiscard]] DeviceType device_type() const noexcept override { return DeviceType::kNet; }
  [[nodiscard]] uint64_t features() const noexcept override { return features_; }
  [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const noexcept override {
    return queue_sizes_;
  }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;
  void activate(const ActivateContext& context) override;
  void reset() override;
  void interrupt_changed(uint16_t queue) override;
  // "vhost_starts": how often vhost took the queues over; "forwarded_interrupts": the
  // interrupts the event loop passed on (those not delivered by irqfd).
  [[nodiscard]] DeviceCounters named_counters() const override;

 private:
  std::unique_ptr<TapBackend> tap_;
  std::unique_ptr<VhostNet> vhost_;
  MacAddress mac_;
  EventLoop& loop_;
  uint16_t mtu_;
  uint64_t features_ = 0;
  std::array<uint16_t, 2> queue_sizes_{kQueueSize, kQueueSize};
  std::array<UniqueFd, 2> call_fds_;
  std::array<EventLoop::EventFdWatch, 2> call_watches_;
  VirtioInterrupt* interrupt_ = nullptr;  // while active; activate/reset/interrupt_changed only
  std::atomic<uint64_t> starts_{0};
  std::atomic<uint64_t> interrupts_{0};

  // The eventfd vhost signals for `queue`: the transport's irqfd, else call_fds_[queue].
  [[nodiscard]] int call_eventfd(uint16_t queue) const;
};

}  // namespace vmm::virtio
