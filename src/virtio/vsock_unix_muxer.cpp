#include "vmm/virtio/vsock_unix_muxer.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <utility>

#include "vmm/common/error.hpp"
#include "vmm/common/unix_socket.hpp"

namespace vmm::virtio {
namespace {

// "CONNECT 4294967295\n" is 19 bytes; Firecracker reads at most 32.
constexpr size_t kMaxConnectLine = 32;
// Host connections taken per readiness of the listener, so a connect storm cannot hold the
// loop; the rest wait for the next turn.
constexpr int kAcceptsPerWake = 16;
// How long the listener rests after accept() failed for want of descriptors or memory.
constexpr std::chrono::milliseconds kAcceptRetry{100};

// "CONNECT <port>" (the keyword in any case, as Firecracker reads it), without the newline.
std::optional<uint32_t> parse_connect_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto next_word = [&line]() {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())) != 0) {
      line.remove_prefix(1);
    }
    size_t n = 0;
    while (n < line.size() && std::isspace(static_cast<unsigned char>(line[n])) == 0) ++n;
    const std::string_view word = line.substr(0, n);
    line.remove_prefix(n);
    return word;
  };
  const std::string_view keyword = next_word();
  constexpr std::string_view kConnect = "connect";
  if (keyword.size() != kConnect.size() ||
      !std::equal(keyword.begin(), keyword.end(), kConnect.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == b;
      })) {
    return std::nullopt;
  }
  const std::string_view number = next_word();
  if (number.empty() || !next_word().empty()) return std::nullopt;
  uint32_t port = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), port);
  if (ec != std::errc{} || end != number.data() + number.size()) return std::nullopt;
  return port;
}

}  // namespace

VsockUnixMuxer::VsockUnixMuxer(const VsockConfig& config, EventLoop& loop, std::mutex& mutex,
                               VsockCounters& counters, const VsockLimits& limits,
                               std::function<void()> on_rx_pending)
    : path_(config.socket),
      absolute_path_(std::filesystem::absolute(config.socket)),
      guest_cid_(config.cid),
      loop_(loop),
      mutex_(mutex),
      counters_(counters),
      limits_(limits),
      on_rx_pending_(std::move(on_rx_pending)) {
  listener_ = listen_unix_socket(path_, 128);
  struct stat st {};
  if (::fstat(listener_.get(), &st) == 0 && ::lstat(path_.c_str(), &st) == 0) {
    socket_dev_ = st.st_dev;
    socket_ino_ = st.st_ino;
  }
  try {
    listener_watch_ = loop_.watch_fd(listener_.get());
    listener_retry_ = loop_.make_timer();
    loop_.run_sync([this] { arm_listener(); });
  } catch (...) {
    listener_watch_ = EventLoop::FdWatch();
    ::unlink(path_.c_str());
    throw;
  }
}

VsockUnixMuxer::~VsockUnixMuxer() {
  // On the loop thread: no handler of ours runs meanwhile, and none runs after.
  loop_.run_sync([this] {
    std::lock_guard lock(mutex_);
    listener_watch_ = EventLoop::FdWatch();
    listener_retry_ = EventLoop::Timer();
    handshakes_.clear();
    connections_.clear();
    rx_queue_.clear();
    rst_queue_.clear();
  });
  listener_.reset();
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_) {
    ::unlink(path_.c_str());
  }
}

template <typename Fn>
void VsockUnixMuxer::handle_event(Fn&& fn) {
  std::lock_guard lock(mutex_);
  std::forward<Fn>(fn)();
  if (has_pending_rx()) on_rx_pending_();
}

void VsockUnixMuxer::arm_listener() {
  listener_watch_.wait(EventLoop::kReadable, [this] {
    bool starved = false;
    handle_event([this, &starved] { starved = !accept_host_connections(); });
    if (!starved) {
      arm_listener();
      return;
    }
    // Out of descriptors (or memory): the connection stays in the backlog and the listener
    // stays readable, so try again later instead of spinning on it.
    listener_retry_.arm_after(kAcceptRetry, [this] { arm_listener(); });
  });
}

bool VsockUnixMuxer::accept_host_connections() {
  for (int i = 0; i < kAcceptsPerWake; ++i) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (accept_failures_++ % 1024 == 0) {
        spdlog::warn("vsock {}: accept failed: {} ({} times)", path_.string(), std::strerror(errno),
                     accept_failures_);
      }
      return false;
    }
    if (handshakes_.size() >= limits_.max_host_handshakes ||
        connections_.size() >= limits_.max_connections) {
      counters_.connection_limit.fetch_add(1, std::memory_order_relaxed);
      continue;  // closed: the host program sees EOF without an OK
    }
    const uint64_t id = next_handshake_++;
    auto hs = std::make_unique<Handshake>();
    hs->fd = std::move(fd);
    hs->watch = loop_.watch_fd(hs->fd.get());
    hs->timer = loop_.make_timer();
    hs->timer.arm_after(limits_.connect_command_timeout,
                        [this, id] { handle_event([this, id] { drop_handshake(id, true); }); });
    hs->watch.wait(EventLoop::kReadable,
                   [this, id] { handle_event([this, id] { on_handshake_ready(id); }); });
    handshakes_.emplace(id, std::move(hs));
  }
  return true;
}

void VsockUnixMuxer::drop_handshake(uint64_t id, bool bad_command) {
  const auto it = handshakes_.find(id);
  if (it == handshakes_.end()) return;
  // Counted before the erase closes the socket: whoever sees the close sees the count.
  if (bad_command) counters_.bad_connect_commands.fetch_add(1, std::memory_order_relaxed);
  handshakes_.erase(it);
}

void VsockUnixMuxer::on_handshake_ready(uint64_t id) {
  const auto it = handshakes_.find(id);
  if (it == handshakes_.end()) return;
  Handshake& hs = *it->second;
  // Peek first and consume only up to the newline: bytes the program sent after its CONNECT
  // line belong to the connection.
  std::array<char, kMaxConnectLine> buf{};
  const size_t room = kMaxConnectLine - hs.line.size();
  const ssize_t n = ::recv(hs.fd.get(), buf.data(), room, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    hs.watch.wait(EventLoop::kReadable,
                  [this, id] { handle_event([this, id] { on_handshake_ready(id); }); });
    return;
  }
  if (n <= 0) {
    drop_handshake(id, true);  // gone (or failed) before a complete CONNECT line
    return;
  }
  const auto peeked = static_cast<size_t>(n);
  const char* newline = std::find(buf.data(), buf.data() + peeked, '\n');
  const size_t take =
      newline == buf.data() + peeked ? peeked : static_cast<size_t>(newline - buf.data()) + 1;
  if (::recv(hs.fd.get(), buf.data(), take, MSG_DONTWAIT) != static_cast<ssize_t>(take)) {
    drop_handshake(id, true);
    return;
  }
  hs.line.append(buf.data(), take);
  if (hs.line.back() != '\n') {
    if (hs.line.size() >= kMaxConnectLine) {
      drop_handshake(id, true);  // overlong
      return;
    }
    hs.watch.wait(EventLoop::kReadable,
                  [this, id] { handle_event([this, id] { on_handshake_ready(id); }); });
    return;
  }
  hs.line.pop_back();
  const std::optional<uint32_t> port = parse_connect_line(hs.line);
  if (!port) {
    SPDLOG_DEBUG("vsock {}: bad connect command '{}'", path_.string(), hs.line);
    drop_handshake(id, true);
    return;
  }
  hs.watch = EventLoop::FdWatch();  // before the descriptor moves on
  UniqueFd stream = std::move(hs.fd);
  handshakes_.erase(it);
  start_host_connection(std::move(stream), *port);
}

uint32_t VsockUnixMuxer::allocate_host_port() {
  // Round robin over [2^30, 2^31) as Firecracker does: ports are not reused soon after.
  for (;;) {
    last_host_port_ = ((last_host_port_ + 1) & ~(1U << 31)) | (1U << 30);
    if (host_ports_.insert(last_host_port_).second) return last_host_port_;
  }
}

bool VsockUnixMuxer::add_connection(VsockConnection::Origin origin, UniqueFd stream,
                                    uint32_t local_port, uint32_t peer_port,
                                    const VsockHeader* request) {
  const uint64_t k = key(local_port, peer_port);
  const VsockConnection::Params params{.guest_cid = guest_cid_,
                                       .local_port = local_port,
                                       .peer_port = peer_port,
                                       .buf_alloc = limits_.buf_alloc,
                                       .timeout = limits_.timeout};
  // The connection's events find it by its key: once it is gone they do nothing.
  auto event = [this, k](void (VsockConnection::*handle)()) {
    return [this, k, handle] {
      handle_event([this, k, handle] {
        const auto it = connections_.find(k);
        if (it == connections_.end()) return;
        (it->second.conn.get()->*handle)();
        after_change(k);
      });
    };
  };
  try {
    connections_[k].conn = std::make_unique<VsockConnection>(
        origin, std::move(stream), params, loop_, counters_, event(&VsockConnection::on_host_ready),
        event(&VsockConnection::on_timeout), request);
  } catch (const std::exception& e) {
    spdlog::warn("vsock {}: cannot take a connection: {}", path_.string(), e.what());
    connections_.erase(k);
    return false;
  }
  after_change(k);
  return true;
}

void VsockUnixMuxer::start_host_connection(UniqueFd stream, uint32_t guest_port) {
  if (connections_.size() >= limits_.max_connections) {
    counters_.connection_limit.fetch_add(1, std::memory_order_relaxed);
    return;  // the stream closes without an OK
  }
  const uint32_t local_port = allocate_host_port();
  if (!add_connection(VsockConnection::Origin::kHost, std::move(stream), local_port, guest_port,
                      nullptr)) {
    host_ports_.erase(local_port);
  }
}

void VsockUnixMuxer::start_guest_connection(const VsockHeader& request) {
  if (connections_.size() >= limits_.max_connections) {
    counters_.connection_limit.fetch_add(1, std::memory_order_relaxed);
    queue_rst(request.dst_port, request.src_port);
    return;
  }
  const std::string target = path_.string() + "_" + std::to_string(request.dst_port);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  UniqueFd fd;
  if (target.size() < sizeof(addr.sun_path)) {
    std::memcpy(addr.sun_path, target.data(), target.size());
    fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  }
  // A Unix stream connect completes at once or fails (EAGAIN: the listener's backlog is
  // full); it never blocks the loop.
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    SPDLOG_DEBUG("vsock: guest port {} -> {}: {}", request.src_port, target,
                 fd ? std::strerror(errno) : "path too long");
    counters_.guest_connect_failures.fetch_add(1, std::memory_order_relaxed);
    queue_rst(request.dst_port, request.src_port);
    return;
  }
  if (!add_connection(VsockConnection::Origin::kGuest, std::move(fd), request.dst_port,
                      request.src_port, &request)) {
    queue_rst(request.dst_port, request.src_port);
  }
}

void VsockUnixMuxer::queue_rst(uint32_t local_port, uint32_t peer_port) {
  if (rst_queue_.size() >= limits_.max_queued_rsts) {
    counters_.rst_queue_drops.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  rst_queue_.push_back(Rst{local_port, peer_port});
}

void VsockUnixMuxer::after_change(uint64_t conn_key) {
  const auto it = connections_.find(conn_key);
  if (it == connections_.end()) return;
  Entry& e = it->second;
  if (e.conn->finished()) {
    remove(conn_key);
    return;
  }
  e.conn->sync_waits();
  if (!e.queued && e.conn->has_pending_rx()) {
    e.queued = true;
    rx_queue_.push_back(conn_key);
  }
}

void VsockUnixMuxer::remove(uint64_t conn_key) {
  const auto it = connections_.find(conn_key);
  if (it == connections_.end()) return;
  if (it->second.conn->origin() == VsockConnection::Origin::kHost) {
    host_ports_.erase(it->second.conn->local_port());
  }
  connections_.erase(it);  // closes the stream; a stale rx_queue_ entry is skipped later
}

void VsockUnixMuxer::on_guest_packet(const VsockHeader& h,
                                     std::span<const std::span<const uint8_t>> payload) {
  const uint64_t k = key(h.dst_port, h.src_port);
  const auto it = connections_.find(k);
  if (h.vsock_op() == VsockOp::kRst) {
    remove(k);  // the guest ended it (or refused our REQUEST): the stream closes, no OK
    return;
  }
  if (it == connections_.end()) {
    if (h.vsock_op() == VsockOp::kRequest) {
      start_guest_connection(h);
    } else {
      counters_.unknown_connection.fetch_add(1, std::memory_order_relaxed);
      queue_rst(h.dst_port, h.src_port);
    }
    return;
  }
  it->second.conn->on_guest_packet(h, payload);
  after_change(k);
}

void VsockUnixMuxer::refuse_guest_packet(const VsockHeader& h) {
  const uint64_t k = key(h.dst_port, h.src_port);
  const auto it = connections_.find(k);
  if (h.vsock_op() == VsockOp::kRst) {
    remove(k);
    return;
  }
  if (it == connections_.end()) {
    queue_rst(h.dst_port, h.src_port);
    return;
  }
  it->second.conn->kill(nullptr);
  after_change(k);
}

bool VsockUnixMuxer::has_pending_rx() const noexcept {
  return !rst_queue_.empty() || !rx_queue_.empty();
}

std::optional<uint32_t> VsockUnixMuxer::fill_rx(VsockHeader& h,
                                                std::span<const std::span<uint8_t>> payload) {
  auto next_rst = [this, &h]() -> std::optional<uint32_t> {
    const Rst r = rst_queue_.front();
    rst_queue_.pop_front();
    h = VsockHeader{};
    h.src_cid = kVsockHostCid;
    h.dst_cid = guest_cid_;
    h.src_port = r.local_port;
    h.dst_port = r.peer_port;
    h.type = kVsockTypeStream;
    h.op = static_cast<uint16_t>(VsockOp::kRst);
    counters_.rx_packets.fetch_add(1, std::memory_order_relaxed);
    return 0;
  };
  if (!rst_queue_.empty() && (rst_turn_ || rx_queue_.empty())) {
    rst_turn_ = false;
    return next_rst();
  }
  rst_turn_ = true;
  // Each queued connection gets one try; one that has nothing after all leaves the queue.
  for (size_t tries = rx_queue_.size(); tries > 0 && !rx_queue_.empty(); --tries) {
    const uint64_t k = rx_queue_.front();
    rx_queue_.pop_front();
    const auto it = connections_.find(k);
    if (it == connections_.end()) continue;
    it->second.queued = false;
    const std::optional<uint32_t> len = it->second.conn->fill_rx(h, payload);
    after_change(k);  // back of the queue if it has more: the others get their turn first
    if (len) {
      counters_.rx_packets.fetch_add(1, std::memory_order_relaxed);
      return len;
    }
  }
  if (!rst_queue_.empty()) return next_rst();
  return std::nullopt;
}

void VsockUnixMuxer::reset() {
  connections_.clear();
  rx_queue_.clear();
  rst_queue_.clear();
  host_ports_.clear();
}

}  // namespace vmm::virtio
