#include "vmm/virtio/vsock_connection.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace vmm::virtio {
namespace {

// The most one RW packet carries to the guest (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
constexpr uint32_t kMaxRwPayload = 64 * 1024;
// iovecs per readv/sendmsg: a guest buffer list longer than this is used in part.
constexpr size_t kMaxIov = 64;

uint64_t load(const VsockCounters::Counter& c) { return c.load(std::memory_order_relaxed); }

}  // namespace

DeviceCounters VsockCounters::named() const {
  return {{"tx_packets", load(tx_packets)},
          {"tx_bytes", load(tx_bytes)},
          {"rx_packets", load(rx_packets)},
          {"rx_bytes", load(rx_bytes)},
          {"host_connections", load(host_connections)},
          {"guest_connections", load(guest_connections)},
          {"connections_reset", load(connections_reset)},
          {"short_packets", load(short_packets)},
          {"bad_src_cid", load(bad_src_cid)},
          {"bad_dst_cid", load(bad_dst_cid)},
          {"bad_type", load(bad_type)},
          {"bad_op", load(bad_op)},
          {"bad_len", load(bad_len)},
          {"credit_violations", load(credit_violations)},
          {"unexpected_packets", load(unexpected_packets)},
          {"unknown_connection", load(unknown_connection)},
          {"connection_limit", load(connection_limit)},
          {"guest_connect_failures", load(guest_connect_failures)},
          {"bad_connect_commands", load(bad_connect_commands)},
          {"connect_timeouts", load(connect_timeouts)},
          {"shutdown_timeouts", load(shutdown_timeouts)},
          {"host_stream_errors", load(host_stream_errors)},
          {"rst_queue_drops", load(rst_queue_drops)},
          {"short_rx_buffers", load(short_rx_buffers)}};
}

VsockConnection::VsockConnection(Origin origin, UniqueFd stream, const Params& params,
                                 EventLoop& loop, VsockCounters& counters,
                                 std::function<void()> on_ready, std::function<void()> on_timeout,
                                 const VsockHeader* request)
    : origin_(origin),
      params_(params),
      loop_(loop),
      counters_(counters),
      stream_(std::move(stream)),
      on_ready_(std::move(on_ready)),
      on_timeout_(std::move(on_timeout)) {
  watch_ = loop_.watch_fd(stream_.get());
  timer_ = loop_.make_timer();
  if (origin_ == Origin::kGuest) {
    guest_knows_ = true;
    pending_ = kPendingResponse;
    if (request != nullptr) {
      peer_buf_alloc_ = request->buf_alloc;
      peer_fwd_cnt_ = request->fwd_cnt;
    }
  } else {
    pending_ = kPendingRequest;
    // Bounded from the start: a guest whose driver never comes up never sees the REQUEST.
    start_wait(Wait::kConnect);
  }
}

VsockConnection::~VsockConnection() { close_stream(); }

bool VsockConnection::finished() const noexcept {
  return state_ == State::kClosed && pending_ == 0;
}

uint32_t VsockConnection::peer_credit() const noexcept {
  const uint32_t in_flight = rx_to_guest_ - peer_fwd_cnt_;  // wraps like the guest's counters
  return in_flight >= peer_buf_alloc_ ? 0 : peer_buf_alloc_ - in_flight;
}

bool VsockConnection::can_read_host() const noexcept {
  return state_ == State::kEstablished && stream_ && !host_eof_ &&
         (guest_shutdown_ & kVsockShutdownRcv) == 0;
}

bool VsockConnection::has_pending_rx() const noexcept {
  if (pending_ != 0) return true;
  return host_readable_ && can_read_host() && (peer_credit() > 0 || !credit_requested_);
}

void VsockConnection::init_header(VsockHeader& h, VsockOp op) noexcept {
  h = VsockHeader{};
  h.src_cid = kVsockHostCid;
  h.dst_cid = params_.guest_cid;
  h.src_port = params_.local_port;
  h.dst_port = params_.peer_port;
  h.type = kVsockTypeStream;
  h.op = static_cast<uint16_t>(op);
  h.buf_alloc = params_.buf_alloc;
  h.fwd_cnt = static_cast<uint32_t>(fwd_cnt_);
  // Every packet tells the guest our fwd_cnt: no separate update is owed for it any more.
  last_fwd_cnt_sent_ = fwd_cnt_;
  pending_ &= ~kPendingCreditUpdate;
}

void VsockConnection::start_wait(Wait wait) {
  wait_ = wait;
  timer_.arm_after(params_.timeout, on_timeout_);
}

void VsockConnection::end_wait() noexcept {
  wait_ = Wait::kNone;
  timer_.cancel();
}

void VsockConnection::close_stream() noexcept {
  watch_ = EventLoop::FdWatch();  // no readiness handler runs once this returns
  watching_ = 0;
  stream_.reset();
  host_readable_ = false;
}

void VsockConnection::close_with_rst() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  end_wait();
  close_stream();
  tx_buf_ = {};
  tx_len_ = 0;
  // Whatever else was owed is moot; a guest that never heard of the connection needs nothing.
  pending_ = guest_knows_ ? unsigned{kPendingRst} : 0U;
}

void VsockConnection::kill(VsockCounters::Counter* reason) {
  if (state_ == State::kClosed) return;
  if (reason != nullptr) reason->fetch_add(1, std::memory_order_relaxed);
  if (guest_knows_) counters_.connections_reset.fetch_add(1, std::memory_order_relaxed);
  close_with_rst();
}

void VsockConnection::on_timeout() {
  if (state_ == State::kClosed) return;
  switch (wait_) {
    case Wait::kConnect:
      SPDLOG_DEBUG("vsock: host connection to guest port {} not answered in time",
                   params_.peer_port);
      kill(&counters_.connect_timeouts);
      break;
    case Wait::kShutdown:
      kill(&counters_.shutdown_timeouts);
      break;
    case Wait::kNone:
      break;
  }
}

void VsockConnection::on_guest_packet(const VsockHeader& h,
                                      std::span<const std::span<const uint8_t>> payload) {
  peer_buf_alloc_ = h.buf_alloc;
  peer_fwd_cnt_ = h.fwd_cnt;
  if (peer_credit() > 0) credit_requested_ = false;
  if (state_ == State::kClosed) return;  // crossed our RST: nothing left to do with it
  switch (h.vsock_op()) {
    case VsockOp::kResponse: {
      if (origin_ != Origin::kHost || state_ != State::kConnecting || !guest_knows_) {
        kill(&counters_.unexpected_packets);
        return;
      }
      state_ = State::kEstablished;
      end_wait();
      counters_.host_connections.fetch_add(1, std::memory_order_relaxed);
      // Firecracker's acknowledgement, before any byte of the guest's reaches the stream.
      const std::string ok = "OK " + std::to_string(params_.local_port) + "\n";
      const ssize_t n = ::send(stream_.get(), ok.data(), ok.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n != static_cast<ssize_t>(ok.size())) kill(&counters_.host_stream_errors);
      return;
    }
    case VsockOp::kRw:
      on_guest_rw(h, payload);
      return;
    case VsockOp::kShutdown:
      if (state_ != State::kEstablished) {
        kill(&counters_.unexpected_packets);
        return;
      }
      on_guest_shutdown(h.flags);
      return;
    case VsockOp::kCreditUpdate:
      return;  // the credit fields were taken above
    case VsockOp::kCreditRequest:
      pending_ |= kPendingCreditUpdate;
      return;
    case VsockOp::kRequest:  // a second REQUEST for a live connection
    case VsockOp::kRst:      // the muxer's business; never reaches a connection
    case VsockOp::kInvalid:
      break;
  }
  kill(&counters_.unexpected_packets);
}

void VsockConnection::on_guest_rw(const VsockHeader& h,
                                  std::span<const std::span<const uint8_t>> payload) {
  if (state_ != State::kEstablished || (guest_shutdown_ & kVsockShutdownSend) != 0) {
    kill(&counters_.unexpected_packets);
    return;
  }
  const uint32_t len = h.len;
  if (len == 0) return;
  // The guest may send what we last told it was free; our real free space is never less.
  if (rx_from_guest_ + len - last_fwd_cnt_sent_ > params_.buf_alloc) {
    // Counted, not logged: a guest must not be able to flood the log.
    SPDLOG_DEBUG("vsock: guest port {} sent {} bytes beyond its credit; connection reset",
                 params_.peer_port, rx_from_guest_ + len - last_fwd_cnt_sent_ - params_.buf_alloc);
    kill(&counters_.credit_violations);
    return;
  }
  rx_from_guest_ += len;
  counters_.tx_bytes.fetch_add(len, std::memory_order_relaxed);

  size_t written = 0;
  if (tx_len_ == 0) {
    std::array<iovec, kMaxIov> iov{};
    size_t count = 0;
    for (const auto& part : payload) {
      if (count == iov.size()) break;
      iov[count++] = iovec{const_cast<uint8_t*>(part.data()), part.size()};
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    ssize_t n;
    do {
      n = ::sendmsg(stream_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      SPDLOG_DEBUG("vsock: writing to the host stream of port {}: {}", params_.local_port,
                   std::strerror(errno));
      kill(&counters_.host_stream_errors);
      return;
    }
    written = n > 0 ? static_cast<size_t>(n) : 0;
  }
  // The rest waits in the buffer; the credit check above guarantees it fits.
  if (written < len) {
    if (tx_buf_.empty()) tx_buf_.resize(params_.buf_alloc);
    size_t skip = written;
    for (const auto& part : payload) {
      if (skip >= part.size()) {
        skip -= part.size();
        continue;
      }
      const auto rest = part.subspan(skip);
      skip = 0;
      for (size_t done = 0; done < rest.size();) {
        const size_t tail = (tx_head_ + tx_len_) % tx_buf_.size();
        const size_t n = std::min(rest.size() - done, tx_buf_.size() - tail);
        std::memcpy(tx_buf_.data() + tail, rest.data() + done, n);
        tx_len_ += n;
        done += n;
      }
    }
  }
  fwd_cnt_ += written;
  maybe_credit_update();
}

void VsockConnection::on_guest_shutdown(uint32_t flags) {
  guest_shutdown_ |= flags & kVsockShutdownBoth;
  if ((flags & kVsockShutdownRcv) != 0 && stream_) {
    // The guest reads no more: nothing is read from the host, whose writes now fail.
    ::shutdown(stream_.get(), SHUT_RD);
    host_readable_ = false;
  }
  advance_close();
}

void VsockConnection::advance_close() {
  if (state_ != State::kEstablished) return;
  const bool guest_send_done = (guest_shutdown_ & kVsockShutdownSend) != 0;
  if (guest_send_done && tx_len_ == 0 && !host_write_shut_) {
    ::shutdown(stream_.get(), SHUT_WR);
    host_write_shut_ = true;
  }
  const bool host_send_done = host_eof_ || (guest_shutdown_ & kVsockShutdownRcv) != 0;
  if (guest_send_done && tx_len_ == 0 && host_send_done) {
    close_with_rst();  // no byte can move any more
    return;
  }
  if (guest_shutdown_ == kVsockShutdownBoth && wait_ != Wait::kShutdown) {
    start_wait(Wait::kShutdown);  // the guest closed; the host has until then to drain
  }
}

void VsockConnection::maybe_credit_update() noexcept {
  if (state_ != State::kEstablished || (guest_shutdown_ & kVsockShutdownSend) != 0) return;
  if (fwd_cnt_ == last_fwd_cnt_sent_) return;  // nothing freed that the guest does not know
  const uint64_t used_as_seen = rx_from_guest_ - last_fwd_cnt_sent_;
  const uint64_t free_as_seen =
      params_.buf_alloc - std::min<uint64_t>(used_as_seen, params_.buf_alloc);
  if (free_as_seen < params_.buf_alloc / 2) pending_ |= kPendingCreditUpdate;
}

bool VsockConnection::flush() {
  bool progressed = false;
  while (tx_len_ > 0) {
    std::array<iovec, 2> iov{};
    const size_t first = std::min(tx_len_, tx_buf_.size() - tx_head_);
    iov[0] = iovec{tx_buf_.data() + tx_head_, first};
    iov[1] = iovec{tx_buf_.data(), tx_len_ - first};
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = tx_len_ > first ? 2 : 1;
    const ssize_t n = ::sendmsg(stream_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      kill(&counters_.host_stream_errors);
      return false;
    }
    tx_head_ = (tx_head_ + static_cast<size_t>(n)) % tx_buf_.size();
    tx_len_ -= static_cast<size_t>(n);
    fwd_cnt_ += static_cast<uint64_t>(n);
    progressed = progressed || n > 0;
  }
  if (tx_len_ == 0) tx_head_ = 0;
  // A close waits for a peer that does not read; one that makes progress gets more time.
  if (progressed && wait_ == Wait::kShutdown) start_wait(Wait::kShutdown);
  return true;
}

void VsockConnection::on_host_ready() {
  if (!stream_) return;
  if (!watch_.waiting()) watching_ = 0;
  pollfd p{stream_.get(), POLLIN | POLLOUT, 0};
  if (::poll(&p, 1, 0) < 0) return;
  if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) host_readable_ = true;
  if (tx_len_ > 0 && (p.revents & (POLLOUT | POLLHUP | POLLERR)) != 0) {
    if (!flush()) return;
    advance_close();
    maybe_credit_update();
  }
}

std::optional<uint32_t> VsockConnection::read_host(VsockHeader& h,
                                                   std::span<const std::span<uint8_t>> payload) {
  uint32_t max = std::min(peer_credit(), kMaxRwPayload);
  std::array<iovec, kMaxIov> iov{};
  size_t count = 0;
  for (const auto& part : payload) {
    if (max == 0 || count == iov.size()) break;
    const auto n = static_cast<uint32_t>(std::min<size_t>(part.size(), max));
    if (n == 0) continue;
    iov[count++] = iovec{part.data(), n};
    max -= n;
  }
  if (count == 0) return std::nullopt;
  ssize_t n;
  do {
    n = ::readv(stream_.get(), iov.data(), static_cast<int>(count));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    init_header(h, VsockOp::kRw);
    h.len = static_cast<uint32_t>(n);
    rx_to_guest_ += h.len;
    counters_.rx_bytes.fetch_add(h.len, std::memory_order_relaxed);
    return h.len;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      host_readable_ = false;  // drained: watch it again
      return std::nullopt;
    }
    SPDLOG_DEBUG("vsock: reading the host stream of port {}: {}", params_.local_port,
                 std::strerror(errno));
    kill(&counters_.host_stream_errors);
    pending_ = 0;
    init_header(h, VsockOp::kRst);
    return 0;
  }
  // EOF: the host sends no more. POLLHUP says it closed the stream altogether (a Unix stream
  // raises it once both directions are shut), so it will not read either.
  host_eof_ = true;
  host_readable_ = false;
  pollfd p{stream_.get(), POLLIN, 0};
  const bool closed = ::poll(&p, 1, 0) > 0 && (p.revents & POLLHUP) != 0;
  advance_close();
  if (state_ == State::kClosed) {
    pending_ = 0;
    init_header(h, VsockOp::kRst);
    return 0;
  }
  init_header(h, VsockOp::kShutdown);
  h.flags = kVsockShutdownSend | (closed ? kVsockShutdownRcv : 0);
  if (closed) start_wait(Wait::kShutdown);  // the guest now owes its RST
  return 0;
}

std::optional<uint32_t> VsockConnection::fill_rx(VsockHeader& h,
                                                 std::span<const std::span<uint8_t>> payload) {
  if ((pending_ & kPendingRst) != 0) {
    pending_ = 0;
    init_header(h, VsockOp::kRst);
    return 0;
  }
  if (state_ == State::kClosed) {
    pending_ = 0;
    return std::nullopt;
  }
  if ((pending_ & kPendingResponse) != 0) {
    pending_ &= ~kPendingResponse;
    state_ = State::kEstablished;
    counters_.guest_connections.fetch_add(1, std::memory_order_relaxed);
    init_header(h, VsockOp::kResponse);
    return 0;
  }
  if ((pending_ & kPendingRequest) != 0) {
    pending_ &= ~kPendingRequest;
    guest_knows_ = true;
    start_wait(Wait::kConnect);  // the guest's turn to answer
    init_header(h, VsockOp::kRequest);
    return 0;
  }
  if (host_readable_ && can_read_host()) {
    if (peer_credit() == 0) {
      if (!credit_requested_) {
        credit_requested_ = true;
        init_header(h, VsockOp::kCreditRequest);
        return 0;
      }
    } else if (auto n = read_host(h, payload)) {
      return n;
    }
  }
  if ((pending_ & kPendingCreditUpdate) != 0) {
    init_header(h, VsockOp::kCreditUpdate);
    return 0;
  }
  return std::nullopt;
}

void VsockConnection::sync_waits() {
  if (!stream_) return;
  unsigned want = 0;
  if (can_read_host() && !host_readable_ && peer_credit() > 0) want |= EventLoop::kReadable;
  if (tx_len_ > 0) want |= EventLoop::kWritable;
  if (!watch_.waiting()) watching_ = 0;
  if (want == watching_) return;
  if (want == 0) {
    watch_.cancel();
  } else {
    watch_.wait(want, on_ready_);
  }
  watching_ = want;
}

}  // namespace vmm::virtio
