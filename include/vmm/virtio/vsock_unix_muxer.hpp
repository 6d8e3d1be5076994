#pragma once
// The host side of virtio-vsock, as Firecracker's vsock does it, so that tools written for
// Firecracker work unchanged:
//   host-initiated  a host program connects to the Unix socket PATH and sends
//                   "CONNECT <port>\n"; the muxer sends the guest a REQUEST from CID 2 and a
//                   host port it allocates (from 2^30 up); on the guest's RESPONSE the program
//                   reads "OK <hostport>\n" and the stream carries the connection. A guest RST
//                   (nobody listens), no answer within the timeout, or a bad or overlong
//                   CONNECT line closes the stream without an OK.
//   guest-initiated a guest REQUEST to CID 2 port P connects (non-blocking) to the Unix socket
//                   PATH_P: accepted, RESPONSE; refused or absent, RST.
// It routes the guest's packets to their VsockConnection by (host port, guest port), answers
// packets for no connection with an RST (queued, at most `max_queued_rsts`), caps the
// connections (an RST or a closed stream beyond), and schedules what the connections and the
// RST queue have for the guest round-robin, so that one busy or stuck connection never stalls
// another.
//
// Threading: everything runs on the device's event loop. The muxer's state is guarded by the
// device's mutex, which its own event handlers take; the calls below need it held.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "vmm/common/unique_fd.hpp"
#include "vmm/config/vsock_config.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/vsock_connection.hpp"
#include "vmm/virtio/vsock_packet.hpp"

namespace vmm::virtio {

// Bounds on what a guest (or host programs) can make the muxer hold.
struct VsockLimits {
  uint32_t buf_alloc = 256 * 1024;  // per connection: the guest -> host buffer and credit
  size_t max_connections = 256;     // live connections, both directions together
  size_t max_host_handshakes = 64;  // accepted host streams that have not sent CONNECT yet
  size_t max_queued_rsts = 256;     // RSTs for packets of no connection, not yet delivered
  // The guest's answer to a REQUEST, and the end of a close (Firecracker's 2 s).
  std::chrono::milliseconds timeout{2000};
  // A host program's "CONNECT <port>\n" after it connected.
  std::chrono::milliseconds connect_command_timeout{5000};
};

class VsockUnixMuxer final {
 public:
  // Listens on config.socket at once (a stale socket there is replaced; anything else is a
  // HostResourceError naming the path). `mutex`, `counters` and `loop` must outlive the muxer;
  // `on_rx_pending` is called with the mutex held, on the loop thread, when host events left
  // packets for the guest.
  VsockUnixMuxer(const VsockConfig& config, EventLoop& loop, std::mutex& mutex,
                 VsockCounters& counters, const VsockLimits& limits,
                 std::function<void()> on_rx_pending);
  // Closes every stream and the listener and removes the socket file.
  ~VsockUnixMuxer();
  VsockUnixMuxer(const VsockUnixMuxer&) = delete;
  VsockUnixMuxer& operator=(const VsockUnixMuxer&) = delete;

  // The socket path as configured, and as an absolute path (for vm.info).
  [[nodiscard]] const std::filesystem::path& socket_path() const noexcept { return path_; }
  [[nodiscard]] const std::filesystem::path& absolute_socket_path() const noexcept {
    return absolute_path_;
  }

  // --- With the mutex held, on the loop thread. ---
  // A packet from the guest that passed check_guest_packet; `payload` holds header.len bytes.
  void on_guest_packet(const VsockHeader& header,
                       std::span<const std::span<const uint8_t>> payload);
  // A packet that failed the checks after its addresses (type, op, len): its connection, if
  // any, is reset, and an RST answers it (unless it is one).
  void refuse_guest_packet(const VsockHeader& header);
  [[nodiscard]] bool has_pending_rx() const noexcept;
  // The next packet for the guest into `header` and `payload` (the receive buffer after the
  // header; never empty). nullopt: nothing after all. Otherwise the payload length.
  [[nodiscard]] std::optional<uint32_t> fill_rx(VsockHeader& header,
                                                std::span<const std::span<uint8_t>> payload);
  // The guest driver went away: every connection's stream is closed, nothing stays queued.
  // Host programs still waiting to send CONNECT keep waiting.
  void reset();
  [[nodiscard]] size_t connection_count() const noexcept { return connections_.size(); }

 private:
  struct Handshake {
    UniqueFd fd;
    EventLoop::FdWatch watch;  // declared after fd: released before the fd closes
    EventLoop::Timer timer;
    std::string line;  // the part of the CONNECT line read so far
  };
  struct Entry {
    std::unique_ptr<VsockConnection> conn;
    bool queued = false;  // in rx_queue_
  };
  struct Rst {
    uint32_t local_port;
    uint32_t peer_port;
  };

  static uint64_t key(uint32_t local_port, uint32_t peer_port) noexcept {
    return (uint64_t{local_port} << 32) | peer_port;
  }

  void arm_listener();
  // False when accept() failed for want of resources (the listener then rests a while).
  [[nodiscard]] bool accept_host_connections();
  void on_handshake_ready(uint64_t id);
  void drop_handshake(uint64_t id, bool bad_command);
  void start_host_connection(UniqueFd stream, uint32_t guest_port);
  void start_guest_connection(const VsockHeader& request);
  // False (the stream closed) when the connection could not be set up.
  bool add_connection(VsockConnection::Origin origin, UniqueFd stream, uint32_t local_port,
                      uint32_t peer_port, const VsockHeader* request);
  [[nodiscard]] uint32_t allocate_host_port();
  void queue_rst(uint32_t local_port, uint32_t peer_port);
  // After a connection changed: forget it when finished, else re-arm it and queue its packets.
  void after_change(uint64_t conn_key);
  void remove(uint64_t conn_key);
  // For the event handlers: runs `fn` under the lock, then tells the device about new packets.
  template <typename Fn>
  void handle_event(Fn&& fn);

  std::filesystem::path path_;
  std::filesystem::path absolute_path_;
  uint64_t guest_cid_;
  EventLoop& loop_;
  std::mutex& mutex_;
  VsockCounters& counters_;
  VsockLimits limits_;
  std::function<void()> on_rx_pending_;

  UniqueFd listener_;
  EventLoop::FdWatch listener_watch_;
  EventLoop::Timer listener_retry_;
  uint64_t accept_failures_ = 0;
  dev_t socket_dev_ = 0;  // the socket file this muxer made, to remove only that one
  ino_t socket_ino_ = 0;

  // Under mutex_:
  std::unordered_map<uint64_t, std::unique_ptr<Handshake>> handshakes_;
  uint64_t next_handshake_ = 0;
  std::unordered_map<uint64_t, Entry> connections_;
  std::deque<uint64_t> rx_queue_;  // connections with something for the guest, in turn
  std::deque<Rst> rst_queue_;
  bool rst_turn_ = false;  // alternate the RST queue with the connections
  std::unordered_set<uint32_t> host_ports_;
  uint32_t last_host_port_ = (1U << 30) - 1;
};

}  // namespace vmm::virtio
