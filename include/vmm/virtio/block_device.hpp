#pragma once
// virtio-blk (virtio 1.2, 5.2) over a raw image file: 1..16 request queues (VIRTIO_BLK_F_MQ),
// several requests in flight on each, host I/O through a BlockIoEngine per queue.
//
// Locking: each request queue has its own mutex and its own engine (an io_uring ring with its
// own completion thread), so queues submit and complete in parallel and a completion never
// takes the device-wide mutex(). The loop thread takes mutex() (QueueDevice) and then the
// queue's mutex; completions take only the queue's mutex. A queue's ring pointer and
// `running` flag are set under both locks and stay valid until quiesce() has drained the
// queue's engine, so a completion never outlives the activation it belongs to.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "vmm/config/block_config.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/block_io_engine.hpp"
#include "vmm/virtio/block_request.hpp"
#include "vmm/virtio/disk_image.hpp"
#include "vmm/virtio/queue_device.hpp"

namespace vmm::virtio {

class VirtioBlock final : public QueueDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;

  // Opens and locks the image. Throws vmm::ConfigError for a bad path, serial or a locked
  // image. `loop` must outlive the device.
  VirtioBlock(const BlockDeviceConfig& config, EventLoop& loop);
  ~VirtioBlock() override;

  [[nodiscard]] DeviceType device_type() const noexcept override { return DeviceType::kBlock; }
  [[nodiscard]] uint64_t features() const noexcept override { return features_; }
  [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const noexcept override {
    return queue_sizes_;
  }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;
  [[nodiscard]] DeviceCounters named_counters() const override;

  [[nodiscard]] uint64_t capacity_sectors() const noexcept { return limits_.capacity_sectors; }
  [[nodiscard]] const char* io_engine_name() const noexcept {
    return request_queues_.front()->engine->name();
  }
  [[nodiscard]] size_t request_queue_count() const noexcept { return request_queues_.size(); }

 private:
  // One request between submission and completion.
  struct Slot {
    BlkRequest request;
    BlockIo io;
  };
  // One virtqueue's requests; everything but `engine` under `mutex`.
  struct RequestQueue {
    uint16_t index = 0;
    std::mutex mutex;
    Queue* ring = nullptr;                 // set while running
    VirtioInterrupt* interrupt = nullptr;  // set while running
    bool running = false;
    bool signal_pending = false;  // used buffers added by completions, not yet signalled
    std::vector<Slot> slots;
    std::vector<uint16_t> free_slots;
    std::unique_ptr<BlockIoEngine> engine;
  };

  bool start_locked(const ActivateContext& context) override;
  // Drains request queue `queue` (loop thread).
  void on_notify_locked(uint16_t queue) override;
  // Stops each queue (completions leave its ring alone from now on) and lets its I/O finish.
  void quiesce() override;
  void stop_locked() override;

  void build_config(unsigned queue_count);
  // The *_queue_locked functions need the queue's mutex (not mutex(): a completion refills its
  // queue with only that; fail_locked() reads nothing that changes while the queue runs).
  void process_queue_locked(RequestQueue& rq);
  // Finishes a request: status byte, used ring, and the interrupt unless `defer_signal` (the
  // engine's batch end sends one for the whole batch).
  void complete_queue_locked(RequestQueue& rq, BlkRequest& request, uint8_t status,
                             bool defer_signal = false);
  void signal_queue_locked(RequestQueue& rq);
  void on_io_complete(RequestQueue& rq, uint64_t slot, int result);
  void on_io_batch_done(RequestQueue& rq);

  std::string serial_;
  DiskImage image_;
  BlkDiskLimits limits_;
  uint64_t features_ = 0;
  std::vector<uint16_t> queue_sizes_;
  std::array<uint8_t, 60> config_{};

  // Completed requests, counted as they complete; read without the lock.
  std::atomic<uint64_t> read_ops_{0}, read_bytes_{0}, write_ops_{0}, write_bytes_{0};
  std::atomic<uint64_t> flush_ops_{0}, discard_ops_{0}, errors_{0};

  std::vector<std::unique_ptr<RequestQueue>> request_queues_;  // fixed after construction
};

}  // namespace vmm::virtio
