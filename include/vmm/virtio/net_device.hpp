#pragma once
// virtio-net (virtio 1.2, 5.1) with one queue pair: receiveq 0, transmitq 1, no control
// queue. Packets move between the guest's rings and a NetBackend on the event loop; the
// virtio_net_hdr passes through unchanged except num_buffers, which the device fills in.
//
// No copy on the fast path: a transmitted chain goes to the backend as host views of its
// buffers (one writev for a TAP), and received packets are read straight into the guest's
// buffers once the held chains cover the largest frame the guest accepts (with MRG_RXBUF,
// several chains, of which the packet uses the first ones and the rest stay held). While the
// guest has posted less than that, packets go through a host buffer as before. Every chain
// available at a wake-up is processed, with one interrupt at the end.
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
// Segments of one packet handed to the backend (the kernel's UIO_MAXIOV); a transmit chain
// with more is dropped, receive buffers needing more take the copying path.
inline constexpr size_t kNetMaxSegments = 1024;

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

  enum class RxResult : uint8_t { kNone, kDelivered, kDropped };

  void on_backend_readable();
  void deliver_rx_locked();
  // Takes chains until `needed` bytes fit. False: not enough buffers yet.
  [[nodiscard]] bool gather_rx_chains_locked(size_t needed);
  // Fills rx_segments_ with host views of the held chains, max_rx_packet_ bytes and the spare
  // byte. False when they do not cover that much or need too many segments.
  [[nodiscard]] bool map_rx_chains_locked();
  // Reads one packet from the backend into rx_segments_ and completes its chains.
  RxResult receive_in_place_locked();
  // How many held chains a packet of `len` bytes occupies.
  [[nodiscard]] size_t chains_for_locked(size_t len) const;
  [[nodiscard]] bool write_chain_bytes_locked(const ChainBuffers& chain, size_t offset,
                                              std::span<const uint8_t> bytes) const;
  // Sets num_buffers, returns the first `chains` held chains as used, counts the packet.
  void complete_rx_chains_locked(size_t chains, size_t len);
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
  std::vector<iovec> rx_segments_;       // host views of rx_chains_ the backend reads into
  std::array<uint8_t, 1> rx_spare_{};    // after them: a packet reaching it is too large
  std::vector<iovec> tx_segments_;       // host views of one transmit chain
};

}  // namespace vmm::virtio
