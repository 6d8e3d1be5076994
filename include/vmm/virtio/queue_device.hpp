#pragma once
// The activate/reset plumbing every queue-serving virtio device shares. On DRIVER_OK it checks
// that the transport brought the device's queues, keeps the guest memory, the queues and the
// interrupt while the device is active, watches each queue's notify eventfd on the event loop
// and gives the device a first pass over buffers queued before DRIVER_OK. On reset it undoes
// that in the one safe order: refuse new work, stop the watches (no handler runs after), let
// the device quiesce its host side (I/O in flight, a backend), then forget the queues. Once
// reset() returns the device touches no guest memory until the next activate().
//
// A device implements the hooks below; they run with mutex() held unless said otherwise, and
// the notify handler runs on the loop thread, only while the device is active.
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/virtio_device.hpp"

namespace vmm::virtio {

class QueueDevice : public VirtioDevice {
 public:
  void activate(const ActivateContext& context) final;
  void reset() final;

 protected:
  // `loop` must outlive the device; `log_name` starts its log lines ("virtio-blk disk.img").
  QueueDevice(EventLoop& loop, std::string log_name, uint16_t queue_count);
  ~QueueDevice() override = default;
  QueueDevice(const QueueDevice&) = delete;
  QueueDevice& operator=(const QueueDevice&) = delete;

  // Takes what the device needs from a new activation (features, queue sizes). False: the
  // device cannot run with these queues (it logs why) and stays inactive.
  virtual bool start_locked(const ActivateContext& /*context*/) { return true; }
  // After start_locked, without the lock and before any queue is watched: host side setup.
  virtual void start_host(const ActivateContext& /*context*/) {}
  // The driver notified `queue` (or the first pass after activation runs over every queue).
  virtual void on_notify_locked(uint16_t queue) = 0;
  // Without the lock, after the watches stopped: finish or cancel host work that may still
  // reach the queues (completions see active_locked() == false).
  virtual void quiesce() {}
  // The last moment the queues are known (active_locked() is already false; queue() is
  // nullptr when the device never started): flush, forget per-activation state.
  virtual void stop_locked() {}

  [[nodiscard]] std::mutex& mutex() noexcept { return mutex_; }
  [[nodiscard]] EventLoop& loop() noexcept { return loop_; }
  [[nodiscard]] const std::string& log_name() const noexcept { return log_name_; }
  // The rest need the lock.
  [[nodiscard]] bool active_locked() const noexcept { return active_; }
  // The queue when the driver enabled it, else nullptr.
  [[nodiscard]] Queue* queue(uint16_t index) const noexcept {
    return index < queues_.size() && queues_[index].ready() ? &queues_[index] : nullptr;
  }
  [[nodiscard]] const GuestMemory* memory() const noexcept { return memory_; }
  [[nodiscard]] VirtioInterrupt* interrupt() const noexcept { return interrupt_; }
  // Used buffers were added to `queue`: interrupt the driver if it asked for that.
  void notify_used_locked(uint16_t queue_index) const;
  // The guest broke `queue`'s protocol: the queue stops and the device needs a reset.
  void fail_locked(Queue& queue, const std::string& what) const;

 private:
  EventLoop& loop_;
  std::string log_name_;
  uint16_t queue_count_;

  std::mutex mutex_;  // guards everything below and the derived device's own state
  bool active_ = false;
  const GuestMemory* memory_ = nullptr;
  std::span<Queue> queues_;
  VirtioInterrupt* interrupt_ = nullptr;
  std::vector<EventLoop::EventFdWatch> watches_;
};

}  // namespace vmm::virtio
