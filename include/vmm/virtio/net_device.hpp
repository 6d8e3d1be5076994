#pragma once
// virtio-net (virtio 1.2, 5.1). With one backend: one queue pair, receiveq 0 and transmitq 1,
// no control queue. With N > 1 backends (one per queue pair, e.g. the queues of a multi-queue
// TAP): MQ and CTRL_VQ are offered, receiveq k = 2k, transmitq k = 2k + 1, the control queue
// is 2N; the guest starts on pair 0 and enables more with VQ_PAIRS_SET, and a pair it does not
// use has its backend queue deactivated so the host steers no packets there. Packets move
// between the guest's rings and the backends on the event loop; the virtio_net_hdr passes
// through unchanged except num_buffers, which the device fills in.
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
#include "vmm/virtio/net_control.hpp"
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
inline constexpr unsigned kNetFeatureCtrlVq = 17;
inline constexpr unsigned kNetFeatureCtrlRx = 18;
inline constexpr unsigned kNetFeatureMq = 22;
inline constexpr unsigned kNetFeatureCtrlMacAddr = 23;

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
  // One backend per queue pair, 1..kNetMaxQueuePairs of them (else std::invalid_argument).
  VirtioNet(std::vector<std::unique_ptr<NetBackend>> backends, const MacAddress& mac,
            EventLoop& loop, uint16_t mtu = kDefaultMtu);
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
  [[nodiscard]] uint16_t max_queue_pairs() const noexcept {
    return static_cast<uint16_t>(pairs_.size());
  }
  // The index of the control queue (multi-queue only).
  [[nodiscard]] uint16_t control_queue() const noexcept {
    return static_cast<uint16_t>(2 * pairs_.size());
  }
  // Thread-safe snapshot of what the driver set through the control queue.
  [[nodiscard]] NetControlState control_state();

 private:
  // One receive/transmit queue pair and its backend.
  struct Pair {
    std::unique_ptr<NetBackend> backend;
    std::vector<uint8_t> rx_packet;       // a packet read through the host, not yet delivered
    size_t rx_pending = 0;                // its length, 0 when none
    std::vector<ChainBuffers> rx_chains;  // popped, held until a packet fills them
    std::vector<iovec> rx_segments;       // host views of rx_chains the backend reads into
    std::array<uint8_t, 1> rx_spare{};    // after them: a packet reaching it is too large
    std::vector<iovec> tx_segments;       // host views of one transmit chain
  };
  enum class RxResult : uint8_t { kNone, kDelivered, kDropped };

  bool start_locked(const ActivateContext& context) override;
  void start_host(const ActivateContext& context) override;
  void on_notify_locked(uint16_t queue) override;
  void quiesce() override;
  void stop_locked() override;
  [[nodiscard]] bool multi_queue() const noexcept { return pairs_.size() > 1; }
  Queue* rx(size_t pair) const noexcept { return queue(static_cast<uint16_t>(2 * pair)); }
  Queue* tx(size_t pair) const noexcept { return queue(static_cast<uint16_t>(2 * pair + 1)); }

  void on_backend_readable(size_t pair);
  void deliver_rx_locked(size_t pair);
  // Takes chains until `needed` bytes fit. False: not enough buffers yet.
  [[nodiscard]] bool gather_rx_chains_locked(size_t pair, size_t needed);
  // Fills rx_segments with host views of the held chains, max_rx_packet_ bytes and the spare
  // byte. False when they do not cover that much or need too many segments.
  [[nodiscard]] bool map_rx_chains_locked(Pair& p) const;
  // Reads one packet from the backend into rx_segments and completes its chains.
  RxResult receive_in_place_locked(size_t pair);
  // How many held chains a packet of `len` bytes occupies.
  [[nodiscard]] size_t chains_for_locked(const Pair& p, size_t len) const;
  [[nodiscard]] bool write_chain_bytes_locked(const ChainBuffers& chain, size_t offset,
                                              std::span<const uint8_t> bytes) const;
  // Sets num_buffers, returns the first `chains` held chains as used, counts the packet.
  void complete_rx_chains_locked(size_t pair, size_t chains, size_t len);
  void write_pending_packet_locked(size_t pair, size_t chains);
  void drain_tx_locked(size_t pair);
  void handle_control_locked();
  // Activates the backends of the first `pairs` pairs, deactivates the others.
  void use_queue_pairs_locked(uint16_t pairs);
  void drop(std::atomic<uint64_t>& counter, const char* what);

  MacAddress mac_;
  uint16_t mtu_;
  uint64_t features_ = 0;
  std::vector<uint16_t> queue_sizes_;
  std::vector<Pair> pairs_;

  std::atomic<uint64_t> rx_packets_{0};
  std::atomic<uint64_t> rx_bytes_{0};
  std::atomic<uint64_t> rx_drops_{0};
  std::atomic<uint64_t> tx_packets_{0};
  std::atomic<uint64_t> tx_bytes_{0};
  std::atomic<uint64_t> tx_drops_{0};
  std::atomic<uint64_t> warnings_{0};

  bool backends_started_ = false;  // activate()/reset() only
  // Under mutex():
  bool mergeable_ = false;
  size_t max_rx_packet_ = 0;
  NetControlState control_;
  std::vector<uint8_t> control_request_;
};

}  // namespace vmm::virtio
