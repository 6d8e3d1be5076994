#pragma once
// A fake guest vsock driver around a real VirtioVsock, for device tests: it writes packets
// into the transmit queue the way Linux does (header and payload in separate buffers), keeps
// receive buffers posted (a 44-byte header buffer and a 4 KiB payload buffer per chain, as
// Linux 6.1 does), reads back what the device delivered, and gives the host side's Unix
// sockets (the device's PATH, and listeners at PATH_PORT) in a private temporary directory.
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fake_virtio_interrupt.hpp"
#include "mock_virtqueue.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/virtio/vsock_device.hpp"

namespace vmm::virtio::testing {

inline constexpr uint64_t kGuestCid = 3;
inline constexpr uint32_t kRxPayload = 4096;

struct Packet {
  VsockHeader hdr;
  std::string data;
  [[nodiscard]] VsockOp op() const { return hdr.vsock_op(); }
};

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Limits small enough for tests to reach them quickly.
inline VsockLimits test_limits() {
  VsockLimits l;
  l.buf_alloc = 16 * 1024;
  l.max_connections = 8;
  l.max_host_handshakes = 4;
  l.max_queued_rsts = 8;
  l.timeout = std::chrono::milliseconds(300);
  l.connect_command_timeout = std::chrono::milliseconds(500);
  return l;
}

class FakeVsockGuest {
 public:
  static constexpr uint16_t kRingSize = 64;
  static constexpr uint64_t kTxArea = 0x100000;  // transmit packets, bump-allocated
  static constexpr uint64_t kTxAreaSize = 0x100000;
  static constexpr uint64_t kRxArea = 0x200000;  // one 8 KiB slot per receive chain
  static constexpr uint16_t kRxSlots = 24;

  explicit FakeVsockGuest(const VsockLimits& limits = test_limits()) {
    char tmpl[] = "/tmp/vsockXXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    path_ = dir_ / "v.sock";
    device_ = std::make_unique<VirtioVsock>(VsockConfig{.cid = kGuestCid, .socket = path_}, loop_,
                                            limits);
  }
  ~FakeVsockGuest() {
    if (device_) device_->reset();
    device_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  FakeVsockGuest(const FakeVsockGuest&) = delete;
  FakeVsockGuest& operator=(const FakeVsockGuest&) = delete;

  // Driver start: queues configured and enabled, DRIVER_OK. `rx_buffers` chains posted.
  void start(uint16_t rx_buffers = 16, uint64_t features = feature_bit(kFeatureVersion1)) {
    rx_.configure(queues_[0]);
    tx_.configure(queues_[1]);
    event_.configure(queues_[2]);
    for (auto& q : queues_) ASSERT_TRUE(q.enable(mem_, features));
    const int fds[] = {kick_[0].get(), kick_[1].get(), kick_[2].get()};
    device_->activate(ActivateContext{mem_, queues_, fds, features, irq_});
    post_rx(rx_buffers);
  }

  VirtioVsock& device() { return *device_; }
  EventLoop& loop() { return loop_; }
  FakeVirtioInterrupt& irq() { return irq_; }
  MockVirtqueue& tx_ring() { return tx_; }
  MockVirtqueue& rx_ring() { return rx_; }
  const GuestMemory& memory() const { return mem_; }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path port_path(uint32_t port) const {
    return std::filesystem::path(path_.string() + "_" + std::to_string(port));
  }

  uint64_t counter(const std::string& name) const {
    for (const auto& [n, v] : device_->named_counters()) {
      if (n == name) return v;
    }
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  void kick(uint16_t queue) {
    const uint64_t one = 1;
    ASSERT_EQ(::write(kick_[queue].get(), &one, sizeof one), 8);
  }

  // --- transmit ---
  static VsockHeader header(VsockOp op, uint32_t src_port, uint32_t dst_port,
                            uint32_t buf_alloc = 64 * 1024, uint32_t fwd_cnt = 0) {
    VsockHeader h;
    h.src_cid = kGuestCid;
    h.dst_cid = kVsockHostCid;
    h.src_port = src_port;
    h.dst_port = dst_port;
    h.type = kVsockTypeStream;
    h.op = static_cast<uint16_t>(op);
    h.buf_alloc = buf_alloc;
    h.fwd_cnt = fwd_cnt;
    return h;
  }

  // Queues one packet (header buffer, then the payload buffer when there is one), kicks and
  // waits until the device has taken it. h.len is set to the payload size unless `keep_len`.
  void send(VsockHeader h, const std::string& payload = {}, bool keep_len = false) {
    if (!keep_len) h.len = static_cast<uint32_t>(payload.size());
    const uint64_t hdr_addr = tx_alloc(kVsockHeaderSize);
    const auto raw = encode_vsock_header(h);
    ASSERT_TRUE(mem_.write(GuestAddress(hdr_addr), raw));
    if (payload.empty()) {
      tx_.add_chain({{hdr_addr, static_cast<uint32_t>(kVsockHeaderSize), false}});
    } else {
      const uint64_t data_addr = tx_alloc(payload.size());
      ASSERT_TRUE(
          mem_.write(GuestAddress(data_addr),
                     std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size())));
      tx_.add_chain({{hdr_addr, static_cast<uint32_t>(kVsockHeaderSize), false},
                     {data_addr, static_cast<uint32_t>(payload.size()), false}});
    }
    wait_tx_taken();
  }
  // A raw chain of readable buffers.
  void send_raw(std::initializer_list<Buffer> buffers) {
    tx_.add_chain(buffers);
    wait_tx_taken();
  }
  void wait_tx_taken() {
    const uint16_t want = tx_.avail_idx();
    kick(1);
    ASSERT_TRUE(eventually([&] { return tx_.used_idx() == want || irq_.needs_reset.load(); }))
        << "the device did not take the transmitted packet";
  }
  uint64_t tx_alloc(uint64_t len) {
    if (tx_next_ + len > kTxArea + kTxAreaSize) tx_next_ = kTxArea;
    const uint64_t a = tx_next_;
    tx_next_ += (len + 15) & ~uint64_t{15};
    return a;
  }

  // --- receive ---
  void post_rx(uint16_t count) {
    for (uint16_t i = 0; i < count; ++i) {
      const uint64_t slot = kRxArea + static_cast<uint64_t>(rx_slot_++ % kRxSlots) * 0x2000;
      const uint16_t head = rx_.add_chain({{slot, static_cast<uint32_t>(kVsockHeaderSize), true},
                                           {slot + 0x100, kRxPayload, true}});
      rx_slots_[head] = slot;
    }
    kick(0);
  }
  [[nodiscard]] uint16_t rx_used() const { return rx_.used_idx(); }

  // The next packet the device delivered (re-posting its buffer when `repost`), or nullopt
  // when none arrives within `limit`.
  std::optional<Packet> recv(std::chrono::milliseconds limit = std::chrono::milliseconds(2000),
                             bool repost = true) {
    if (!eventually([&] { return rx_.used_idx() != rx_seen_; }, limit)) return std::nullopt;
    const UsedElem e = rx_.used_elem(rx_seen_++);
    const uint64_t slot = rx_slots_.at(static_cast<uint16_t>(e.id));
    std::array<uint8_t, kVsockHeaderSize> raw{};
    EXPECT_TRUE(mem_.read(GuestAddress(slot), raw));
    Packet p{decode_vsock_header(raw), {}};
    EXPECT_EQ(e.len, kVsockHeaderSize + p.hdr.len) << "used length and header len disagree";
    EXPECT_LE(p.hdr.len, kRxPayload);
    p.data.resize(std::min<uint32_t>(p.hdr.len, kRxPayload));
    EXPECT_TRUE(mem_.read(GuestAddress(slot + 0x100),
                          std::span(reinterpret_cast<uint8_t*>(p.data.data()), p.data.size())));
    if (repost) post_rx(1);
    return p;
  }
  // Receives until a packet with `op` arrives (others are kept in `skipped`).
  std::optional<Packet> recv_op(VsockOp op, std::vector<Packet>* skipped = nullptr,
                                std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      auto p = recv(std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now()));
      if (!p) return std::nullopt;
      if (p->op() == op) return p;
      if (skipped != nullptr) skipped->push_back(*p);
    }
    return std::nullopt;
  }
  // The next used receive element as it is, for chains posted by hand on rx_ring().
  std::optional<UsedElem> recv_used(
      std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    if (!eventually([&] { return rx_.used_idx() != rx_seen_; }, limit)) return std::nullopt;
    return rx_.used_elem(rx_seen_++);
  }
  // Nothing delivered within `quiet`.
  bool silent(std::chrono::milliseconds quiet = std::chrono::milliseconds(100)) {
    std::this_thread::sleep_for(quiet);
    return rx_.used_idx() == rx_seen_;
  }

  // --- host side ---
  static UniqueFd unix_connect(const std::filesystem::path& p) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, p.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return UniqueFd();
    }
    return fd;
  }
  static UniqueFd unix_listen(const std::filesystem::path& p) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, p.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd.get(), 16) != 0) {
      return UniqueFd();
    }
    return fd;
  }
  static UniqueFd accept_within(const UniqueFd& listener, int ms = 2000) {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return UniqueFd();
    return UniqueFd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }
  static void write_all(const UniqueFd& fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << std::strerror(errno);
      done += static_cast<size_t>(n);
    }
  }
  // Reads exactly `n` bytes (less on EOF or timeout).
  static std::string read_n(const UniqueFd& fd, size_t n, int ms = 2000) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      pollfd p{fd.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      std::array<char, 65536> buf{};
      const ssize_t got = ::recv(fd.get(), buf.data(), std::min(buf.size(), n - out.size()), 0);
      if (got <= 0) break;
      out.append(buf.data(), static_cast<size_t>(got));
    }
    return out;
  }
  // Whether the peer closed (EOF, or reset) within `ms`; data before the EOF is skipped.
  static bool closed_within(const UniqueFd& fd, int ms = 2000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      std::array<char, 4096> buf{};
      const ssize_t got = ::recv(fd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EAGAIN)) return true;
    }
    return false;
  }
  static bool readable_within(const UniqueFd& fd, int ms) {
    pollfd p{fd.get(), POLLIN, 0};
    return ::poll(&p, 1, ms) > 0;
  }

  // --- whole handshakes ---
  // Host program connects to PATH and asks for `guest_port`; returns its stream and the
  // REQUEST the guest saw.
  std::pair<UniqueFd, Packet> host_connect(uint32_t guest_port) {
    UniqueFd fd = unix_connect(path_);
    EXPECT_TRUE(fd) << "cannot connect to " << path_;
    write_all(fd, "CONNECT " + std::to_string(guest_port) + "\n");
    auto req = recv_op(VsockOp::kRequest);
    EXPECT_TRUE(req.has_value()) << "no REQUEST reached the guest";
    return {std::move(fd), req.value_or(Packet{})};
  }
  // Host-initiated connection, accepted by the guest; `host_port` is the port from OK.
  struct Established {
    UniqueFd host;
    uint32_t guest_port = 0;
    uint32_t host_port = 0;
  };
  Established host_connection(uint32_t guest_port, uint32_t guest_buf_alloc = 64 * 1024) {
    auto [fd, req] = host_connect(guest_port);
    send(header(VsockOp::kResponse, guest_port, req.hdr.src_port, guest_buf_alloc));
    const std::string expect = "OK " + std::to_string(req.hdr.src_port) + "\n";
    EXPECT_EQ(read_n(fd, expect.size()), expect);
    return {std::move(fd), guest_port, req.hdr.src_port};
  }
  // Guest-initiated connection to a listener at PATH_<host_port>.
  Established guest_connection(const UniqueFd& listener, uint32_t guest_port, uint32_t host_port,
                               uint32_t guest_buf_alloc = 64 * 1024) {
    send(header(VsockOp::kRequest, guest_port, host_port, guest_buf_alloc));
    auto resp = recv_op(VsockOp::kResponse);
    EXPECT_TRUE(resp.has_value()) << "no RESPONSE";
    UniqueFd host = accept_within(listener);
    EXPECT_TRUE(host) << "the listener got no connection";
    return {std::move(host), guest_port, host_port};
  }
  // Round trip over an established connection: host -> guest and guest -> host.
  void expect_alive(const Established& c, const std::string& tag) {
    write_all(c.host, "ping-" + tag);
    auto rw = recv_op(VsockOp::kRw);
    ASSERT_TRUE(rw.has_value()) << tag << ": no data reached the guest";
    EXPECT_EQ(rw->data, "ping-" + tag);
    EXPECT_EQ(rw->hdr.dst_port, c.guest_port);
    send(header(VsockOp::kRw, c.guest_port, c.host_port), "pong-" + tag);
    EXPECT_EQ(read_n(c.host, 5 + tag.size()), "pong-" + tag) << tag;
  }

 private:
  std::filesystem::path dir_;
  std::filesystem::path path_;
  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 8ULL << 20}});
  MockVirtqueue rx_{mem_, GuestAddress(0x1000), kRingSize};
  MockVirtqueue tx_{mem_, GuestAddress(0x10000), kRingSize};
  MockVirtqueue event_{mem_, GuestAddress(0x20000), kRingSize};
  std::array<Queue, 3> queues_{Queue(VirtioVsock::kQueueSize), Queue(VirtioVsock::kQueueSize),
                               Queue(VirtioVsock::kQueueSize)};
  std::array<UniqueFd, 3> kick_{UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
                                UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
                                UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))};
  FakeVirtioInterrupt irq_;
  EventLoop loop_;
  std::unique_ptr<VirtioVsock> device_;
  uint64_t tx_next_ = kTxArea;
  uint16_t rx_slot_ = 0;
  uint16_t rx_seen_ = 0;
  std::map<uint16_t, uint64_t> rx_slots_;
};

}  // namespace vmm::virtio::testing
