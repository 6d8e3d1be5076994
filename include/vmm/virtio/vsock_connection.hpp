#pragma once
// One vsock stream between a guest port and a host Unix stream: the connection state machine
// of virtio 1.2, 5.10.6.3-5.10.6.6 and its credit accounting in both directions.
//
// Host -> guest: bytes are read from the Unix stream straight into the guest's receive buffer,
// and only while the guest has credit (peer_buf_alloc - (bytes sent - peer_fwd_cnt)) and a
// buffer to put them in; no host-side copy exists. Credit exhausted: one CREDIT_REQUEST, and
// the stream is not read (or watched for reading) until the guest's fwd_cnt moves.
// Guest -> host: RW payloads are written to the stream at once; what the stream does not take
// waits in a buffer of at most `buf_alloc` bytes, the credit this side advertises. fwd_cnt
// counts what reached the stream; a CREDIT_UPDATE goes out when the guest's view of our free
// space falls below half while we have freed more, or when it asks. A guest that sends beyond
// the credit we told it is reset (credit_violations).
//
// Closing: SHUTDOWN flags map onto the Unix stream's half-closes and back. A guest
// SHUTDOWN(SEND) becomes shutdown(SHUT_WR) once the buffer has drained, SHUTDOWN(RCV)
// shutdown(SHUT_RD); the stream's EOF becomes SHUTDOWN(SEND), or SHUTDOWN(RCV|SEND) when the
// host closed the stream altogether. When no byte can move any more the connection ends with
// an RST to the guest. Two waits are bounded by `timeout`: the guest's answer to our REQUEST,
// and the end of a close (the guest's RST after our SHUTDOWN(RCV|SEND), or the drain of the
// buffer after the guest's); a peer that lets it pass is reset.
//
// Not thread-safe: the muxer calls everything with the device's lock held, on the loop thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/virtio_device.hpp"
#include "vmm/virtio/vsock_packet.hpp"

namespace vmm::virtio {

// The device's event counts (named_counters), shared by the device, muxer and connections.
// Written under the device's lock, read from any thread.
struct VsockCounters {
  using Counter = std::atomic<uint64_t>;
  Counter tx_packets{0};         // guest -> host packets taken from the transmit queue
  Counter tx_bytes{0};           // RW payload bytes from the guest
  Counter rx_packets{0};         // packets given to the guest
  Counter rx_bytes{0};           // RW payload bytes given to the guest
  Counter host_connections{0};   // host-initiated connections the guest accepted
  Counter guest_connections{0};  // guest-initiated connections a host listener accepted
  Counter connections_reset{0};  // live connections that ended with an RST
  // Guest misbehaviour and host trouble; each ends in an RST or a drop.
  Counter short_packets{0};           // transmit chain shorter than the header: dropped
  Counter bad_src_cid{0};             // dropped
  Counter bad_dst_cid{0};             // dropped
  Counter bad_type{0};                // RST
  Counter bad_op{0};                  // RST
  Counter bad_len{0};                 // len beyond the buffer: RST
  Counter credit_violations{0};       // RW beyond the credit we advertised: RST
  Counter unexpected_packets{0};      // an op the connection's state does not allow: RST
  Counter unknown_connection{0};      // a packet for no connection: RST
  Counter connection_limit{0};        // refused: too many connections (either side)
  Counter guest_connect_failures{0};  // nobody accepted on PATH_<port>: RST
  Counter bad_connect_commands{0};    // host sent no valid "CONNECT <port>\n": closed
  Counter connect_timeouts{0};        // the guest did not answer a host CONNECT in time
  Counter shutdown_timeouts{0};       // a close did not finish in time: RST
  Counter host_stream_errors{0};      // the Unix stream failed: RST
  Counter rst_queue_drops{0};         // an RST for no connection found the queue full
  Counter short_rx_buffers{0};        // receive chain shorter than the header: returned empty

  [[nodiscard]] DeviceCounters named() const;
};

class VsockConnection final {
 public:
  using Clock = EventLoop::Timer::Clock;

  enum class Origin : uint8_t { kHost, kGuest };
  enum class State : uint8_t {
    kConnecting,   // host-initiated: REQUEST queued or sent; guest-initiated: RESPONSE queued
    kEstablished,  // data may flow (each direction until its side shuts it)
    kClosed,       // the stream is closed; an RST may still be owed to the guest
  };

  struct Params {
    uint64_t guest_cid = 0;
    uint32_t local_port = 0;  // the host side's port
    uint32_t peer_port = 0;   // the guest side's port
    uint32_t buf_alloc = 0;   // the credit we advertise (guest -> host buffer)
    std::chrono::milliseconds timeout{2000};
  };

  // `stream` is a connected, non-blocking Unix stream. A guest-initiated connection starts
  // with the guest's REQUEST header (its buf_alloc and fwd_cnt) and owes a RESPONSE; a
  // host-initiated one owes a REQUEST. `on_ready` is called on the loop thread when the stream
  // became readable or writable, `on_timeout` when a bounded wait expired; both without the
  // lock (the muxer takes it) and never after the connection is destroyed.
  VsockConnection(Origin origin, UniqueFd stream, const Params& params, EventLoop& loop,
                  VsockCounters& counters, std::function<void()> on_ready,
                  std::function<void()> on_timeout, const VsockHeader* request = nullptr);
  ~VsockConnection();
  VsockConnection(const VsockConnection&) = delete;
  VsockConnection& operator=(const VsockConnection&) = delete;

  [[nodiscard]] State state() const noexcept { return state_; }
  [[nodiscard]] Origin origin() const noexcept { return origin_; }
  [[nodiscard]] uint32_t local_port() const noexcept { return params_.local_port; }
  [[nodiscard]] uint32_t peer_port() const noexcept { return params_.peer_port; }
  // Nothing more to say to the guest and nothing more to do: the muxer forgets it.
  [[nodiscard]] bool finished() const noexcept;

  // A packet from the guest for this connection (checked by check_guest_packet; RST is the
  // muxer's business). `payload` holds exactly header.len bytes.
  void on_guest_packet(const VsockHeader& header,
                       std::span<const std::span<const uint8_t>> payload);
  // The Unix stream's readiness (from on_ready).
  void on_host_ready();
  // A bounded wait expired (from on_timeout).
  void on_timeout();
  // Ends the connection now: the stream is closed and the guest gets an RST if it knows the
  // connection. `reason` is counted unless null.
  void kill(VsockCounters::Counter* reason);

  // Whether fill_rx() has a packet for the guest now.
  [[nodiscard]] bool has_pending_rx() const noexcept;
  // Fills `header` and up to the capacity of `payload` (guest receive buffers after the
  // header) with the next packet for the guest. nullopt: nothing to send after all (the
  // stream had no data). Otherwise the payload length.
  [[nodiscard]] std::optional<uint32_t> fill_rx(VsockHeader& header,
                                                std::span<const std::span<uint8_t>> payload);

  // After any of the calls above: watches the stream for what the connection can use now and
  // arms the timer for its bounded wait, if any.
  void sync_waits();

 private:
  enum Pending : unsigned {
    kPendingRequest = 1U,
    kPendingResponse = 2U,
    kPendingRst = 4U,
    kPendingCreditUpdate = 8U,
  };
  enum class Wait : uint8_t { kNone, kConnect, kShutdown };

  [[nodiscard]] uint32_t peer_credit() const noexcept;
  [[nodiscard]] bool can_read_host() const noexcept;
  void init_header(VsockHeader& header, VsockOp op) noexcept;
  void on_guest_rw(const VsockHeader& header, std::span<const std::span<const uint8_t>> payload);
  void on_guest_shutdown(uint32_t flags);
  // Reads host data into `payload` as an RW (or an EOF into SHUTDOWN); nullopt: no data now.
  std::optional<uint32_t> read_host(VsockHeader& header,
                                    std::span<const std::span<uint8_t>> payload);
  // Writes buffered guest data to the stream; false when the stream failed (killed).
  [[nodiscard]] bool flush();
  // Moves the connection on when a direction has ended: half-closes, the final RST.
  void advance_close();
  void maybe_credit_update() noexcept;
  // Ends the connection normally or not: the stream closes, the guest is owed an RST.
  void close_with_rst();
  void close_stream() noexcept;
  void start_wait(Wait wait);
  void end_wait() noexcept;

  Origin origin_;
  State state_ = State::kConnecting;
  Params params_;
  EventLoop& loop_;
  VsockCounters& counters_;
  UniqueFd stream_;
  EventLoop::FdWatch watch_;
  EventLoop::Timer timer_;
  std::function<void()> on_ready_;
  std::function<void()> on_timeout_;
  unsigned watching_ = 0;  // the Readiness bits of the pending wait
  Wait wait_ = Wait::kNone;

  unsigned pending_ = 0;           // control packets owed to the guest (Pending bits)
  bool guest_knows_ = false;       // the guest has seen a packet of this connection
  bool host_readable_ = false;     // the stream may have data (or EOF) to read
  bool host_eof_ = false;          // the host will send no more
  bool host_write_shut_ = false;   // shutdown(SHUT_WR) done after the guest's SEND shutdown
  bool credit_requested_ = false;  // a CREDIT_REQUEST went out since the credit ran out
  uint32_t guest_shutdown_ = 0;    // the SHUTDOWN flags the guest sent, ORed

  // Guest -> host.
  uint64_t rx_from_guest_ = 0;      // RW bytes received
  uint64_t fwd_cnt_ = 0;            // of those, written to the stream
  uint64_t last_fwd_cnt_sent_ = 0;  // fwd_cnt as last told to the guest
  std::vector<uint8_t> tx_buf_;     // ring of buf_alloc bytes, allocated when first needed
  size_t tx_head_ = 0;
  size_t tx_len_ = 0;
  // Host -> guest.
  uint32_t rx_to_guest_ = 0;  // RW bytes sent (wrapping, as the guest's fwd_cnt)
  uint32_t peer_buf_alloc_ = 0;
  uint32_t peer_fwd_cnt_ = 0;
};

}  // namespace vmm::virtio
