#pragma once
// virtio-9p (virtio 1.2, 5.11 "9P Transport"): a host directory the guest mounts with
// `mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt`. One request queue; each chain holds
// one 9P request in its device-readable buffers and room for the reply in its device-writable
// ones. The configuration space is the mount tag (le16 length, then the bytes).
//
// The event loop only moves chains: it copies each request out of guest memory (at most
// kMaxMsize bytes) and hands it to the device's worker thread, which runs the file server
// (blocking host I/O never holds the loop, nor a vCPU) and writes the reply back into the
// chain's writable buffers. Requests are answered one at a time in the order they came, which
// is also what makes Tflush trivially correct.
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmm/config/share_config.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/p9_server.hpp"
#include "vmm/virtio/queue_device.hpp"

namespace vmm::virtio {

// VIRTIO_9P_MOUNT_TAG: the configuration space holds the tag.
inline constexpr unsigned k9pFeatureMountTag = 0;

class VirtioP9 final : public QueueDevice {
 public:
  static constexpr uint16_t kQueueSize = 128;
  // Requests copied out of the queue and not yet answered: each holds up to kMaxMsize bytes
  // of host memory, so a guest filling the queue cannot make the host hold 128 of them.
  static constexpr size_t kMaxInFlight = 16;

  // Opens the share. Throws vmm::ConfigError for a bad path or tag. `loop` must outlive the
  // device.
  VirtioP9(const ShareConfig& config, EventLoop& loop);
  ~VirtioP9() override;

  [[nodiscard]] DeviceType device_type() const noexcept override { return DeviceType::k9p; }
  [[nodiscard]] uint64_t features() const noexcept override { return features_; }
  [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const noexcept override {
    return queue_sizes_;
  }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;
  [[nodiscard]] DeviceCounters named_counters() const override;

  [[nodiscard]] const std::string& tag() const noexcept { return tag_; }

 private:
  // One request between the loop and the worker.
  struct Job {
    uint16_t head = 0;
    uint64_t generation = 0;
    std::vector<uint8_t> request;
    ChainBuffers reply_buffers;
  };

  void on_notify_locked(uint16_t /*queue*/) override;
  // Drops queued requests and waits until the worker holds none.
  void quiesce() override;
  void stop_locked() override;

  void worker_main();
  // Copies `reply` into the job's writable buffers and gives the chain back. Worker thread.
  void complete(const Job& job, const std::vector<uint8_t>& reply);

  std::string tag_;
  uint64_t features_ = 0;
  std::array<uint16_t, 1> queue_sizes_{kQueueSize};
  std::vector<uint8_t> config_;

  // Used only by the worker thread (and by stop_locked once the worker is idle).
  p9::Server server_;

  size_t in_flight_ = 0;  // under mutex(): jobs queued or being served

  std::atomic<uint64_t> requests_{0}, errors_{0}, request_bytes_{0}, reply_bytes_{0};

  // The worker's queue. Lock order: mutex() before jobs_mutex_, never the other way round.
  std::mutex jobs_mutex_;
  std::condition_variable jobs_cv_;
  std::deque<Job> jobs_;
  bool worker_busy_ = false;
  bool stopping_ = false;
  uint64_t generation_ = 0;  // bumped by quiesce(): older jobs are not answered
  std::thread worker_;
};

}  // namespace vmm::virtio
