#pragma once
// virtio-vsock (virtio 1.2, 5.10; device ID 19): queues rx 0, tx 1, event 2; configuration
// space le64 guest_cid. Stream sockets only: no feature bit beyond VIRTIO_F_VERSION_1 and the
// ring features, so a driver that knows SEQPACKET does not get it. The host side is a
// VsockUnixMuxer (Firecracker's Unix-socket convention); the device moves packets between it
// and the rings on the event loop, never on a vCPU thread.
//
// Every packet the guest transmits is checked before it reaches a connection: a chain shorter
// than the header is dropped, a wrong source CID (not the guest's) or destination CID (not 2)
// is dropped, a non-stream type, an unknown op or a len beyond the chain is answered with an
// RST (resetting the connection it names); each has a counter in named_counters(). A
// malformed descriptor chain sets DEVICE_NEEDS_RESET, as for the other devices. The event
// queue's buffers are held, never used (no transport reset event is sent).
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "vmm/config/vsock_config.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/queue_device.hpp"
#include "vmm/virtio/vsock_connection.hpp"
#include "vmm/virtio/vsock_unix_muxer.hpp"

namespace vmm::virtio {

class VirtioVsock final : public QueueDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint16_t kRxQueue = 0;
  static constexpr uint16_t kTxQueue = 1;
  static constexpr uint16_t kEventQueue = 2;

  // Listens on config.socket from now on (a HostResourceError, naming the path, when it is
  // taken). `loop` must outlive the device.
  VirtioVsock(const VsockConfig& config, EventLoop& loop, const VsockLimits& limits = {});
  ~VirtioVsock() override;  // closes every connection and removes the socket file

  [[nodiscard]] DeviceType device_type() const noexcept override { return DeviceType::kVsock; }
  [[nodiscard]] uint64_t features() const noexcept override;
  [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const noexcept override {
    return queue_sizes_;
  }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;
  [[nodiscard]] DeviceCounters named_counters() const override { return counters_.named(); }

  [[nodiscard]] uint32_t guest_cid() const noexcept { return cid_; }
  // The Unix socket as an absolute path (host programs connect here).
  [[nodiscard]] const std::filesystem::path& socket_path() const noexcept {
    return muxer_->absolute_socket_path();
  }
  // Live connections (for tests); any thread.
  [[nodiscard]] size_t connection_count();

 private:
  bool start_locked(const ActivateContext& context) override;
  void on_notify_locked(uint16_t queue) override;
  void quiesce() override;
  void stop_locked() override;
  Queue* rx() const noexcept { return queue(kRxQueue); }
  Queue* tx() const noexcept { return queue(kTxQueue); }

  void drain_tx_locked();
  // One transmitted packet, its readable buffers in tx_chain_.
  void handle_tx_packet_locked();
  void deliver_rx_locked();
  void warn_locked(const char* what);
  // Pops the next usable receive chain into held_rx_; false when there is none now.
  [[nodiscard]] bool hold_rx_chain_locked(bool& used);

  uint32_t cid_;
  std::array<uint16_t, 3> queue_sizes_{kQueueSize, kQueueSize, kQueueSize};
  VsockCounters counters_;
  std::unique_ptr<VsockUnixMuxer> muxer_;

  // Under mutex():
  int tx_kick_fd_ = -1;  // the transport's transmit-queue eventfd while active
  uint64_t warnings_ = 0;
  std::optional<ChainBuffers> held_rx_;  // popped, held until a packet fills it
  ChainBuffers tx_chain_;                // scratch: one transmit chain's readable buffers
  std::vector<std::span<const uint8_t>> tx_payload_;  // scratch: its payload in guest RAM
  std::vector<std::span<uint8_t>> rx_payload_;        // scratch: a receive chain's payload
};

}  // namespace vmm::virtio
