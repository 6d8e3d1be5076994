#pragma once
// virtio-net (virtio 1.2, 5.1) with one queue pair: receiveq 0, transmitq 1, no control
// queue. Packets move between the guest's rings and a NetBackend on the event loop; the
// virtio_net_hdr passes through unchanged except num_buffers, which the device fills in.
//
// Hostile or starving guests: a buffer shorter than the header, a frame larger than the
// negotiated maximum or than the buffers the guest posted, and packets arriving while the
// guest posts no receive buffers are counted as drops and logged (rate-limited). A malformed
// descriptor chain sets DEVICE_NEEDS_RESET, as for the other devices.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "vmm/config/net_config.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/net_backend.hpp"
#include "vmm/virtio/queue_device.hpp"

namespace vmm::virtio {

// 5.1.3 Feature bits.
inline constexpr unsigned kNetFeatureCsum = 0;
inline constexpr unsigned kNetFeatureGuestCsum = 1;
inline constexpr unsigned kNetFeatureMtu = 3;
inline constexpr unsigned kNetFeatureMac = 5;
inline constexpr unsigned kNetFeatureGuestTso4 = 7;
inline constexpr unsigned kNetFeatureGuestTso6 = 8;
inline constexpr unsigned kNetFeatureGuestUfo = 10;
inline constexpr unsigned kNetFeatureHostTso4 = 11;
inline constexpr unsigned kNetFeatureHostTso6 = 12;
inline constexpr unsigned kNetFeatureHostUfo = 14;
inline constexpr unsigned kNetFeatureMrgRxbuf = 15;
inline constexpr unsigned kNetFeatureStatus = 16;

// 5.1.4 virtio_net_config: mac[6], le16 status, le16 max_virtqueue_pairs, le16 mtu.
inline constexpr uint16_t kNetStatusLinkUp = 1;
inline constexpr size_t kNetHdrNumBuffersOffset = 10;

// Per-interface traffic figures; drops cover every packet lost in the device, either way.
struct NetCounters {
  uint64_t rx_packets = 0;  // host -> guest
  uint64_t rx_bytes = 0;    // frame bytes, without the virtio_net_hdr
  uint64_t rx_drops = 0;
  uint64_t tx_packets = 0;  // guest -> host
  uint64_t tx_bytes = 0;
  uint64_t tx_drops = 0;
};

class VirtioNet final : public QueueDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint16_t kReceiveQueue = 0;
  static constexpr uint16_t kTransmitQueue = 1;
  static constexpr uint16_t kDefaultMtu = 1500;

  // `loop` must outlive the device; `name` appears in log lines ("eth0", "tap0").
  VirtioNet(std::unique_ptr<NetBackend> backend, const MacAddress& mac, EventLoop& loop,
            uint16_t mtu = kDefaultMtu);
  ~VirtioNet() override;  // logs the counters

  [[nodiscard]] DeviceType device_type() const noexcept override { return DeviceType::kNet; }
  [[nodiscard]] uint64_t features() const noexcept override { return features_; }
  [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const noexcept override {
    return queue_sizes_;
  }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;

  // Thread-safe snapshot.
  [[nodiscard]] NetCounters counters() const noexcept;
  [[nodiscard]] DeviceCounters named_counters() const override;
  [[nodiscard]] const MacAddress& mac() const noexcept { return mac_; }

 private:
  bool start_locked(const ActivateContext& context) override;
  void start_host(const ActivateContext& context) override;
  void on_notify_locked(uint16_t queue) override;
  void quiesce() override;
  void stop_locked() override;
  Queue* rx() const noexcept { return queue(kReceiveQueue); }
  Queue* tx() const noexcept { return queue(kTransmitQueue); }

  void on_backend_readable();
  void deliver_rx_locked();
  // Takes chains until the pending packet fits. False: not enough buffers yet.
  [[nodiscard]] bool gather_rx_chains_locked(size_t needed);
  void write_pending_packet_locked(size_t chains);
  void drain_tx_locked();
  void drop(std::atomic<uint64_t>& counter, const char* what);

  std::unique_ptr<NetBackend> backend_;
  MacAddress mac_;
  uint16_t mtu_;
  uint64_t features_ = 0;
  std::array<uint16_t, 2> queue_sizes_{kQueueSize, kQueueSize};

  std::atomic<uint64_t> rx_packets_{0};
  std::atomic<uint64_t> rx_bytes_{0};
  std::atomic<uint64_t> rx_drops_{0};
  std::atomic<uint64_t> tx_packets_{0};
  std::atomic<uint64_t> tx_bytes_{0};
  std::atomic<uint64_t> tx_drops_{0};
  std::atomic<uint64_t> warnings_{0};

  bool backend_started_ = false;  // activate()/reset() only
  // Under mutex():
  bool mergeable_ = false;
  size_t max_rx_packet_ = 0;
  std::vector<uint8_t> rx_packet_;       // header + frame read from the backend, not yet delivered
  size_t rx_pending_ = 0;                // its length, 0 when none
  std::vector<ChainBuffers> rx_chains_;  // popped, held until a packet fills them
  std::vector<uint8_t> tx_packet_;
};

}  // namespace vmm::virtio
