// Fuzzes virtio-vsock from both sides at once: the input is a script of guest transmit-queue
// packets (arbitrary headers and payloads, split across descriptors in arbitrary ways, some
// answering what the device sent, so that connections get established), receive buffers of
// odd sizes, and host-side events on the device's Unix sockets in a temporary directory
// (CONNECT lines or garbage, data, half-closes and closes, listeners at PATH_<port>), with
// short sleeps so that the timeouts fire. Any crash, hang, sanitizer report or a broken bound
// (more connections than the cap) is a bug. Inputs are scripts read by FuzzedDataProvider;
// vsock_packet_fuzz.seeds/ holds two that establish a connection and move data on it.
// VSOCK_FUZZ_STATS=1 prints each input's non-zero counters: how deep the corpus reaches.
#include <fuzzer/FuzzedDataProvider.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/virtio_spec.hpp"
#include "vmm/virtio/vsock_device.hpp"

namespace {

using namespace vmm;
using namespace vmm::virtio;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kCid = 3;
constexpr uint16_t kRing = 64;
constexpr size_t kMaxOps = 64;

const std::filesystem::path& socket_dir() {
  static const std::filesystem::path dir = [] {
    char tmpl[] = "/tmp/vsockfuzzXXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

// The driver's side of one split ring (desc table, avail and used rings from `base`).
class Ring {
 public:
  Ring(const GuestMemory& mem, uint64_t base) : mem_(mem), base_(base) {}
  void configure(Queue& q) const {
    q.set_size(kRing);
    q.set_desc_table(GuestAddress(base_));
    q.set_avail_ring(GuestAddress(base_ + 0x400));
    q.set_used_ring(GuestAddress(base_ + 0x600));
  }
  struct Buf {
    uint64_t addr;
    uint32_t len;
    bool writable;
  };
  uint16_t add(const std::vector<Buf>& bufs, bool loop = false) {
    const uint16_t head = next_;
    for (size_t i = 0; i < bufs.size(); ++i) {
      const uint16_t index = next_;
      next_ = static_cast<uint16_t>((next_ + 1) % kRing);
      const bool last = i + 1 == bufs.size();
      uint16_t flags = bufs[i].writable ? kDescFlagWrite : 0;
      if (!last || loop) flags |= kDescFlagNext;
      const uint16_t next = loop && last ? head : next_;
      std::array<uint8_t, 16> d{};
      std::memcpy(d.data(), &bufs[i].addr, 8);
      std::memcpy(d.data() + 8, &bufs[i].len, 4);
      std::memcpy(d.data() + 12, &flags, 2);
      std::memcpy(d.data() + 14, &next, 2);
      (void)mem_.write(GuestAddress(base_ + 16ULL * index), d);
    }
    const uint16_t idx = read16(base_ + 0x402);
    write16(base_ + 0x404 + 2ULL * (idx % kRing), head);
    write16(base_ + 0x402, static_cast<uint16_t>(idx + 1));
    return head;
  }
  [[nodiscard]] uint16_t avail_idx() const { return read16(base_ + 0x402); }
  [[nodiscard]] uint16_t used_idx() const { return read16(base_ + 0x602); }
  // id and len of the n-th used element.
  [[nodiscard]] std::pair<uint32_t, uint32_t> used(uint16_t n) const {
    uint32_t id = 0;
    uint32_t len = 0;
    const uint64_t e = base_ + 0x604 + 8ULL * (n % kRing);
    (void)mem_.read(GuestAddress(e), std::span(reinterpret_cast<uint8_t*>(&id), 4));
    (void)mem_.read(GuestAddress(e + 4), std::span(reinterpret_cast<uint8_t*>(&len), 4));
    return {id, len};
  }

 private:
  [[nodiscard]] uint16_t read16(uint64_t a) const {
    uint16_t v = 0;
    (void)mem_.read(GuestAddress(a), std::span(reinterpret_cast<uint8_t*>(&v), 2));
    return v;
  }
  void write16(uint64_t a, uint16_t v) const {
    (void)mem_.write(GuestAddress(a), std::span(reinterpret_cast<const uint8_t*>(&v), 2));
  }
  const GuestMemory& mem_;
  uint64_t base_;
  uint16_t next_ = 0;
};

class Interrupt final : public VirtioInterrupt {
 public:
  void signal_used_queue(uint16_t /*queue*/) override {}
  void signal_config_change() override {}
  void set_device_needs_reset() override { broken = true; }
  std::atomic<bool> broken{false};
};

UniqueFd unix_socket_to(const std::filesystem::path& p, bool listen) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, p.c_str(), sizeof(addr.sun_path) - 1);
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);
  if (listen) {
    if (::bind(fd.get(), sa, sizeof addr) != 0 || ::listen(fd.get(), 4) != 0) return UniqueFd();
  } else if (::connect(fd.get(), sa, sizeof addr) != 0) {
    return UniqueFd();
  }
  return fd;
}

// Waits (briefly) until the device has taken every published chain of `ring`, and until the
// handler that took them (and delivered what they caused) has returned.
void settle(const Ring& ring, const Interrupt& irq, EventLoop& loop) {
  const auto end = Clock::now() + std::chrono::milliseconds(500);
  while (ring.used_idx() != ring.avail_idx() && !irq.broken && Clock::now() < end) {
    std::this_thread::yield();
  }
  loop.run_sync([] {});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::filesystem::path path = socket_dir() / "v.sock";
  const GuestMemory mem = GuestMemory::create_regions({{GuestAddress(0), 1 << 20}});
  Ring rx(mem, 0x1000);
  Ring tx(mem, 0x2000);
  Ring ev(mem, 0x3000);
  std::array<Queue, 3> queues{Queue(256), Queue(256), Queue(256)};
  std::array<UniqueFd, 3> kicks{UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
                                UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
                                UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))};
  Interrupt irq;
  EventLoop loop;
  VsockLimits limits;
  limits.buf_alloc = 4096;
  limits.max_connections = 4;
  limits.max_host_handshakes = 2;
  limits.max_queued_rsts = 4;
  limits.timeout = std::chrono::milliseconds(20);
  limits.connect_command_timeout = std::chrono::milliseconds(30);
  auto dev = std::make_unique<VirtioVsock>(VsockConfig{.cid = kCid, .socket = path}, loop, limits);

  const uint64_t features = feature_bit(kFeatureVersion1) |
                            (in.ConsumeBool() ? feature_bit(kFeatureRingEventIdx) : 0) |
                            (in.ConsumeBool() ? feature_bit(kFeatureRingIndirectDesc) : 0);
  rx.configure(queues[0]);
  tx.configure(queues[1]);
  ev.configure(queues[2]);
  for (auto& q : queues) {
    if (!q.enable(mem, features)) std::abort();
  }
  const int fds[] = {kicks[0].get(), kicks[1].get(), kicks[2].get()};
  dev->activate(ActivateContext{mem, queues, fds, features, irq});
  auto kick = [&](int q) {
    const uint64_t one = 1;
    (void)::write(kicks[q].get(), &one, sizeof one);
  };

  std::vector<UniqueFd> hosts;                      // host programs' streams (to PATH, or accepted)
  std::vector<UniqueFd> listeners;                  // at PATH_<port>
  std::vector<std::pair<uint32_t, uint32_t>> seen;  // (src_port, dst_port) the guest was sent
  uint16_t rx_seen = 0;
  uint64_t tx_data = 0x40000;  // transmit buffers
  uint64_t rx_data = 0x80000;  // receive buffers

  std::map<uint16_t, uint64_t> rx_buffers;  // head -> the buffer's header address
  auto post_rx = [&](uint32_t len) {
    // At most 28 chains (56 descriptors) out at once: the ring's table is never overrun.
    if (static_cast<uint16_t>(rx.avail_idx() - rx.used_idx()) >= 28) return;
    if (rx_data + 0x1100 > 0xc0000) rx_data = 0x80000;
    // 0: a header-sized buffer alone, too short for any packet with data.
    const uint16_t head = len == 0
                              ? rx.add({{rx_data, static_cast<uint32_t>(kVsockHeaderSize), true}})
                              : rx.add({{rx_data, static_cast<uint32_t>(kVsockHeaderSize), true},
                                        {rx_data + 0x40, len, true}});
    rx_buffers[head] = rx_data;
    rx_data += 0x1100;
  };
  // What the device sent the guest: remember the ports (to answer them), give the buffer back.
  auto harvest = [&](const std::function<void(const VsockHeader&)>& observe) {
    bool posted = false;
    while (rx_seen != rx.used_idx()) {
      const auto [id, len] = rx.used(rx_seen++);
      const auto it = rx_buffers.find(static_cast<uint16_t>(id));
      if (it == rx_buffers.end() || len < kVsockHeaderSize) continue;
      std::array<uint8_t, kVsockHeaderSize> raw{};
      if (!mem.read(GuestAddress(it->second), raw)) continue;
      const VsockHeader h = decode_vsock_header(raw);
      if (observe) observe(h);
      const std::pair<uint32_t, uint32_t> ports{h.src_port, h.dst_port};
      if (seen.size() < 16 && std::find(seen.begin(), seen.end(), ports) == seen.end()) {
        seen.push_back(ports);
      }
      post_rx(4096);
      posted = true;
    }
    if (posted) kick(0);
  };
  for (int i = 0; i < 16; ++i) post_rx(4096);
  kick(0);

  auto send_packet = [&](const VsockHeader& h, const std::string& payload, uint32_t split,
                         size_t cut, bool stray_writable) {
    const auto raw = encode_vsock_header(h);
    if (tx_data + 0x3000 > 0x80000) tx_data = 0x40000;
    const uint64_t hdr_at = tx_data;
    const uint64_t body_at = tx_data + 0x40;
    tx_data += 0x2000;
    (void)mem.write(GuestAddress(hdr_at), raw);
    (void)mem.write(GuestAddress(body_at),
                    std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
    std::vector<Ring::Buf> bufs;
    if (split > 0) bufs.push_back({hdr_at, split, false});
    bufs.push_back({hdr_at + split, static_cast<uint32_t>(kVsockHeaderSize - split), false});
    if (cut > 0) bufs.push_back({body_at, static_cast<uint32_t>(cut), false});
    if (payload.size() > cut) {
      bufs.push_back({body_at + cut, static_cast<uint32_t>(payload.size() - cut), false});
    }
    if (stray_writable) bufs.push_back({0x90000, 64, true});
    tx.add(bufs);
    kick(1);
    settle(tx, irq, loop);
  };
  auto guest_header = [](VsockOp op, uint32_t src_port, uint32_t dst_port) {
    VsockHeader h;
    h.src_cid = kCid;
    h.dst_cid = kVsockHostCid;
    h.src_port = src_port;
    h.dst_port = dst_port;
    h.type = kVsockTypeStream;
    h.op = static_cast<uint16_t>(op);
    h.buf_alloc = 65536;
    return h;
  };
  // A few turns of the loop, so that it polls the host sockets and handles what is ready.
  auto turns = [&] {
    for (int i = 0; i < 4; ++i) loop.run_sync([] {});
  };
  auto listen_at = [&](uint32_t port) {
    const auto p = std::filesystem::path(path.string() + "_" + std::to_string(port));
    std::filesystem::remove(p);
    if (UniqueFd l = unix_socket_to(p, true)) listeners.push_back(std::move(l));
  };

  for (size_t op = 0; op < kMaxOps && in.remaining_bytes() > 0 && !irq.broken; ++op) {
    harvest(nullptr);
    switch (in.ConsumeIntegralInRange<int>(0, 11)) {
      case 0:
      case 1: {  // a guest packet
        // Every choice defaults (a false bool, a zero) to a well-formed packet, so that short
        // inputs already reach the connections; the input has to ask for malformed ones.
        VsockHeader h;
        const bool answer = !seen.empty() && !in.ConsumeBool();
        const auto ports = answer ? seen[in.ConsumeIntegralInRange<size_t>(0, seen.size() - 1)]
                                  : std::pair<uint32_t, uint32_t>{0, 0};
        h.src_cid = in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>() : kCid;
        h.dst_cid = in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>() : kVsockHostCid;
        h.src_port = answer ? ports.second : in.ConsumeIntegralInRange<uint32_t>(0, 3);
        h.dst_port = answer ? ports.first : in.ConsumeIntegralInRange<uint32_t>(0, 3);
        h.type = in.ConsumeBool() ? in.ConsumeIntegral<uint16_t>() : kVsockTypeStream;
        const int kind = in.ConsumeIntegralInRange<int>(0, 9);
        // 0: data on a connection the device told the guest of, or a new REQUEST.
        h.op = static_cast<uint16_t>(kind == 0   ? (answer ? 5 : 1)
                                     : kind <= 7 ? kind
                                     : kind == 8 ? 0
                                                 : 99);
        h.flags = in.ConsumeIntegralInRange<uint32_t>(0, 4);
        h.buf_alloc = in.ConsumeBool() ? in.ConsumeIntegral<uint32_t>() : 65536;
        h.fwd_cnt = in.ConsumeIntegral<uint32_t>();
        const std::string payload = in.ConsumeRandomLengthString(6000);
        h.len = in.ConsumeBool() ? in.ConsumeIntegral<uint32_t>()
                                 : static_cast<uint32_t>(payload.size());
        send_packet(h, payload, in.ConsumeIntegralInRange<uint32_t>(0, kVsockHeaderSize),
                    in.ConsumeIntegralInRange<size_t>(0, payload.size()), in.ConsumeBool());
        break;
      }
      case 10: {  // a whole guest-initiated connection: listener, REQUEST, accept
        const uint32_t port = in.ConsumeIntegralInRange<uint32_t>(0, 3);
        listen_at(port);
        VsockHeader h =
            guest_header(VsockOp::kRequest, in.ConsumeIntegralInRange<uint32_t>(0, 3), port);
        send_packet(h, {}, kVsockHeaderSize, 0, false);
        for (const auto& l : listeners) {
          UniqueFd c(::accept4(l.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
          if (c) hosts.push_back(std::move(c));
        }
        break;
      }
      case 11: {  // a whole host-initiated connection: CONNECT, the guest's RESPONSE
        UniqueFd fd = unix_socket_to(path, false);
        if (!fd) break;
        const uint32_t port = in.ConsumeIntegralInRange<uint32_t>(0, 3);
        const std::string line = "CONNECT " + std::to_string(port) + "\n";
        (void)::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        hosts.push_back(std::move(fd));
        // The REQUEST reaches the guest within a few loop turns.
        std::optional<VsockHeader> request;
        for (int turn = 0; turn < 50 && !request; ++turn) {
          loop.run_sync([] {});
          harvest([&](const VsockHeader& r) {
            if (r.vsock_op() == VsockOp::kRequest && r.dst_port == port) request = r;
          });
          if (!request) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (request) {
          send_packet(guest_header(VsockOp::kResponse, request->dst_port, request->src_port), {},
                      kVsockHeaderSize, 0, false);
        }
        break;
      }
      case 2: {  // receive buffers
        const int count = in.ConsumeIntegralInRange<int>(1, 8);
        for (int i = 0; i < count; ++i) post_rx(in.PickValueInArray<uint32_t>({0, 1, 100, 4096}));
        kick(0);
        break;
      }
      case 3: {  // host programs read what reached them
        for (const auto& fd : hosts) {
          std::array<char, 65536> buf{};
          while (::recv(fd.get(), buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
          }
        }
        break;
      }
      case 4: {  // a host program connects and says something
        UniqueFd fd = unix_socket_to(path, false);
        if (!fd) break;
        std::string line =
            in.ConsumeBool()
                ? in.ConsumeRandomLengthString(40)
                : "CONNECT " + std::to_string(in.ConsumeIntegralInRange<int>(0, 3)) + "\n";
        (void)::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        hosts.push_back(std::move(fd));
        break;
      }
      case 5: {  // host data, half-close or close
        if (hosts.empty()) break;
        const size_t i = in.ConsumeIntegralInRange<size_t>(0, hosts.size() - 1);
        const int what = in.ConsumeIntegralInRange<int>(0, 2);
        if (what == 0) {
          const std::string bytes = in.ConsumeRandomLengthString(20000);
          (void)::send(hosts[i].get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        } else if (what == 1) {
          ::shutdown(hosts[i].get(), SHUT_WR);
        } else {
          hosts.erase(hosts.begin() + static_cast<long>(i));
        }
        turns();
        break;
      }
      case 6:  // a host listener for guest connections
        listen_at(in.ConsumeIntegralInRange<uint32_t>(0, 3));
        break;
      case 7: {  // host listeners accept
        for (const auto& l : listeners) {
          UniqueFd c(::accept4(l.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
          if (c) hosts.push_back(std::move(c));
        }
        break;
      }
      case 8:  // let timers fire
        std::this_thread::sleep_for(
            std::chrono::milliseconds(in.ConsumeIntegralInRange<int>(1, 25)));
        break;
      case 9:  // a looping chain: the device must ask for a reset, nothing more
        if (in.ConsumeIntegralInRange<int>(0, 15) == 0) {
          tx.add({{0x40000, 44, false}}, /*loop=*/true);
          kick(1);
          settle(tx, irq, loop);
        }
        break;
    }
    if (dev->connection_count() > limits.max_connections) std::abort();
  }
  turns();
  harvest(nullptr);
  if (std::getenv("VSOCK_FUZZ_STATS") != nullptr) {  // how deep the inputs reach
    std::string line;
    for (const auto& [name, value] : dev->named_counters()) {
      if (value != 0) line += name + "=" + std::to_string(value) + " ";
    }
    std::fprintf(stderr, "vsock: %s\n", line.c_str());
  }
  dev->reset();
  if (dev->connection_count() != 0) std::abort();
  dev.reset();
  for (uint32_t port = 0; port < 4; ++port) {
    std::filesystem::remove(std::filesystem::path(path.string() + "_" + std::to_string(port)));
  }
  return 0;
}
