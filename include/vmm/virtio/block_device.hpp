#pragma once
// virtio-blk (virtio 1.2, 5.2) over a raw image file: one request queue, several requests in
// flight, host I/O through a BlockIoEngine, queue work on the EventLoop.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
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
  [[nodiscard]] const char* io_engine_name() const noexcept { return engine_->name(); }

 private:
  // One request between submission and completion.
  struct Slot {
    BlkRequest request;
    BlockIo io;
  };

  bool start_locked(const ActivateContext& context) override;
  // Drains the request queue (loop thread).
  void on_notify_locked(uint16_t /*queue*/) override { process_queue_locked(); }
  // Lets in-flight I/O finish: completions see the device inactive and leave the rings alone.
  void quiesce() override { engine_->drain(); }
  void stop_locked() override { free_slots_.clear(); }

  void build_config();
  void process_queue_locked();
  // Finishes a request: status byte, used ring, interrupt. Caller holds mutex().
  void complete_locked(BlkRequest& request, uint8_t status);
  void on_io_complete(uint64_t slot, int result);

  std::string serial_;
  DiskImage image_;
  BlkDiskLimits limits_;
  uint64_t features_ = 0;
  std::array<uint16_t, 1> queue_sizes_{kQueueSize};
  std::array<uint8_t, 60> config_{};
  std::unique_ptr<BlockIoEngine> engine_;

  // Completed requests, counted as they complete; read without the lock.
  std::atomic<uint64_t> read_ops_{0}, read_bytes_{0}, write_ops_{0}, write_bytes_{0};
  std::atomic<uint64_t> flush_ops_{0}, discard_ops_{0}, errors_{0};

  // Under mutex(), which the loop and I/O completions hold.
  std::vector<Slot> slots_;
  std::vector<uint16_t> free_slots_;
};

}  // namespace vmm::virtio
