#include "vmm/virtio/queue_device.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace vmm::virtio {

QueueDevice::QueueDevice(EventLoop& loop, std::string log_name, uint16_t queue_count)
    : loop_(loop), log_name_(std::move(log_name)), queue_count_(queue_count) {}

void QueueDevice::activate(const ActivateContext& context) {
  if (context.queues.size() < queue_count_ || context.queue_eventfds.size() < queue_count_) {
    spdlog::warn("{}: driver started the device without its {} queues", log_name_, queue_count_);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    memory_ = &context.memory;
    queues_ = context.queues;
    interrupt_ = &context.interrupt;
    if (!start_locked(context)) {
      memory_ = nullptr;
      queues_ = {};
      interrupt_ = nullptr;
      return;
    }
    active_ = true;
  }
  start_host(context);
  watches_.reserve(queue_count_);
  for (uint16_t q = 0; q < queue_count_; ++q) {
    watches_.push_back(loop_.watch_eventfd(context.queue_eventfds[q], [this, q] {
      std::lock_guard lock(mutex_);
      if (active_) on_notify_locked(q);
    }));
  }
  // Buffers may have been queued before DRIVER_OK, and no kick will announce them.
  loop_.post([this] {
    std::lock_guard lock(mutex_);
    for (uint16_t q = queue_count_; q > 0 && active_; --q) on_notify_locked(q - 1);
  });
}

void QueueDevice::reset() {
  {
    std::lock_guard lock(mutex_);
    active_ = false;
  }
  watches_.clear();
  // A first pass may still be queued: it sees active_ == false. Let the host side settle.
  quiesce();
  std::lock_guard lock(mutex_);
  stop_locked();
  memory_ = nullptr;
  queues_ = {};
  interrupt_ = nullptr;
}

void QueueDevice::notify_used_locked(uint16_t queue_index) const {
  Queue* q = queue(queue_index);
  if (q != nullptr && interrupt_ != nullptr && q->needs_notification()) {
    interrupt_->signal_used_queue(queue_index);
  }
}

void QueueDevice::fail_locked(Queue& queue, const std::string& what) const {
  spdlog::warn("{}: {}; device needs reset", log_name_, what);
  queue.mark_broken();
  if (interrupt_ != nullptr) interrupt_->set_device_needs_reset();
}

}  // namespace vmm::virtio
