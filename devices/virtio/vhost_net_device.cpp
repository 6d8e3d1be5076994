#include "vmm/virtio/vhost_net_device.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vmm/common/error.hpp"
#include "vmm/virtio/net_config_space.hpp"
#include "vmm/virtio/net_device.hpp"

namespace vmm::virtio {

VhostNetDevice::VhostNetDevice(std::unique_ptr<TapBackend> tap, std::unique_ptr<VhostNet> vhost,
                               const MacAddress& mac, EventLoop& loop, uint16_t mtu)
    : tap_(std::move(tap)), vhost_(std::move(vhost)), mac_(mac), loop_(loop), mtu_(mtu) {
  // The ring features are vhost's to serve; the offloads are the TAP's, whose header vhost
  // passes through untouched.
  const uint64_t ring = feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc) |
                        feature_bit(kFeatureRingEventIdx) | feature_bit(kNetFeatureMrgRxbuf);
  features_ = (vhost_->features() & ring) | feature_bit(kNetFeatureMac) |
              feature_bit(kNetFeatureStatus) | feature_bit(kNetFeatureMtu);
  for (const unsigned bit :
       {kNetFeatureCsum, kNetFeatureGuestCsum, kNetFeatureHostTso4, kNetFeatureHostTso6,
        kNetFeatureGuestTso4, kNetFeatureGuestTso6, kNetFeatureHostUfo, kNetFeatureGuestUfo}) {
    features_ |= feature_bit(bit);
  }
  for (auto& fd : call_fds_) {
    fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) throw system_error("eventfd", errno);
  }
}

VhostNetDevice::~VhostNetDevice() {
  reset();
  spdlog::info("virtio-net {}: vhost-net served the queues ({} starts, {} forwarded interrupts)",
               tap_->describe(), starts_.load(), interrupts_.load());
}

DeviceCounters VhostNetDevice::named_counters() const {
  return {{"vhost_starts", starts_.load()}, {"forwarded_interrupts", interrupts_.load()}};
}

void VhostNetDevice::read_config(uint64_t offset, std::span<uint8_t> data) {
  read_net_config(mac_, 1, mtu_, offset, data);
}

void VhostNetDevice::write_config(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {
  // With VERSION_1 the MAC is read-only.
}

void VhostNetDevice::activate(const ActivateContext& context) {
  if (context.queues.size() != 2 || context.queue_eventfds.size() != 2 ||
      !context.queues[0].ready() || !context.queues[1].ready()) {
    throw Error("virtio-net " + tap_->describe() + ": vhost-net needs both queues enabled");
  }
  const uint64_t f = context.features;
  const NetOffloads offloads = offloads_for(f);
  tap_->set_offloads(offloads);

  for (size_t q = 0; q < call_fds_.size(); ++q) {
    VirtioInterrupt& interrupt = context.interrupt;
    const auto queue = static_cast<uint16_t>(q);
    call_watches_[q] = loop_.watch_eventfd(call_fds_[q].get(), [this, &interrupt, queue] {
      interrupts_.fetch_add(1, std::memory_order_relaxed);
      interrupt.signal_used_queue(queue);
    });
  }
  interrupt_ = &context.interrupt;
  const std::array<VhostNet::QueueWiring, 2> wiring{
      VhostNet::QueueWiring{
          .queue = &context.queues[0], .kick = context.queue_eventfds[0], .call = call_eventfd(0)},
      VhostNet::QueueWiring{
          .queue = &context.queues[1], .kick = context.queue_eventfds[1], .call = call_eventfd(1)}};
  try {
    vhost_->start(context.memory, f, wiring, tap_->fd());
  } catch (const Error&) {
    reset();
    throw;
  }
  starts_.fetch_add(1, std::memory_order_relaxed);
  const bool irqfd = wiring[0].call != call_fds_[0].get() && wiring[1].call != call_fds_[1].get();
  spdlog::info("virtio-net {}: vhost-net serves the queues (interrupts {})", tap_->describe(),
               irqfd ? "through KVM irqfds" : "through the event loop");
}

int VhostNetDevice::call_eventfd(uint16_t queue) const {
  const int irqfd = interrupt_ != nullptr ? interrupt_->queue_interrupt_eventfd(queue) : -1;
  return irqfd >= 0 ? irqfd : call_fds_[queue].get();
}

void VhostNetDevice::interrupt_changed(uint16_t queue) {
  if (interrupt_ == nullptr || queue >= call_fds_.size()) return;
  try {
    vhost_->set_call(queue, call_eventfd(queue));
  } catch (const Error& e) {
    spdlog::warn("virtio-net {}: {}", tap_->describe(), e.what());
    interrupt_->set_device_needs_reset();
  }
}

void VhostNetDevice::reset() {
  vhost_->stop();
  for (auto& w : call_watches_) w.stop();
  interrupt_ = nullptr;
}

}  // namespace vmm::virtio
