#include "vmm/virtio/net_slirp.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <list>

#include "slirp_library.hpp"
#include "vmm/common/error.hpp"
#include "vmm/virtio/iovec_copy.hpp"

namespace vmm::virtio {

// Lives as long as any handler queued on the loop refers to it (shared ownership), so a
// cancelled wait that completes after the backend is gone touches nothing freed.
struct SlirpBackend::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(EventLoop& event_loop) : loop(event_loop), round_timer(event_loop.make_timer()) {}

  struct Timer {
    EventLoop::Timer timer;
    SlirpTimerCb cb = nullptr;
    void* cb_opaque = nullptr;
  };

  EventLoop& loop;
  Slirp* slirp = nullptr;
  // Loaded when the first backend is made (slirp_library.hpp); constant after that.
  const SlirpLibrary& lib = slirp_library();
  bool closed = false;
  std::list<Timer> timers;
  // One polling round: slirp's descriptors as slirp_pollfds_fill gave them.
  std::vector<pollfd> pollfds;
  std::vector<EventLoop::FdWatch> waits;
  EventLoop::Timer round_timer;
  uint64_t round = 0;
  bool round_scheduled = false;
  // Frames for the guest.
  std::deque<std::vector<uint8_t>> inbound;
  std::vector<uint8_t> send_buffer;  // one transmitted packet, flattened for libslirp
  uint64_t dropped = 0;
  std::function<void()> on_readable;
  bool armed = false;

  static Impl& self(void* opaque) { return *static_cast<Impl*>(opaque); }

  // Before slirp may close a descriptor, nothing watches it any more.
  void end_waits() {
    waits.clear();
    round_timer.cancel();
  }

  void start_round() {
    end_waits();
    pollfds.clear();
    uint32_t timeout = 1000;
    lib.pollfds_fill(
        slirp, &timeout,
        [](int fd, int events, void* opaque) {
          auto& s = self(opaque);
          short ev = 0;
          if ((events & SLIRP_POLL_IN) != 0) ev |= POLLIN;
          if ((events & SLIRP_POLL_OUT) != 0) ev |= POLLOUT;
          if ((events & SLIRP_POLL_PRI) != 0) ev |= POLLPRI;
          s.pollfds.push_back(pollfd{fd, ev, 0});
          return static_cast<int>(s.pollfds.size() - 1);
        },
        this);
    const uint64_t this_round = ++round;
    auto done = [this, this_round] {
      if (closed || round != this_round) return;
      finish_round();
    };
    for (const pollfd& p : pollfds) {
      unsigned interest = EventLoop::kError;
      if ((p.events & (POLLIN | POLLPRI)) != 0) interest |= EventLoop::kReadable;
      if ((p.events & POLLOUT) != 0) interest |= EventLoop::kWritable;
      try {
        waits.push_back(loop.watch_fd(p.fd));
      } catch (const Error&) {
        continue;  // already watched in this round
      }
      waits.back().wait(interest, done);
    }
    round_timer.arm_after(std::chrono::milliseconds(timeout), done);
  }

  void finish_round() {
    ++round;  // ignore the rest of this round's completions
    end_waits();
    ::poll(pollfds.data(), pollfds.size(), 0);
    lib.pollfds_poll(
        slirp, 0,
        [](int idx, void* opaque) {
          auto& s = self(opaque);
          if (idx < 0 || static_cast<size_t>(idx) >= s.pollfds.size()) return 0;
          const short r = s.pollfds[static_cast<size_t>(idx)].revents;
          int ev = 0;
          if ((r & POLLIN) != 0) ev |= SLIRP_POLL_IN;
          if ((r & POLLOUT) != 0) ev |= SLIRP_POLL_OUT;
          if ((r & POLLPRI) != 0) ev |= SLIRP_POLL_PRI;
          if ((r & POLLERR) != 0) ev |= SLIRP_POLL_ERR;
          if ((r & POLLHUP) != 0) ev |= SLIRP_POLL_HUP;
          return ev;
        },
        this);
    if (!closed) start_round();
  }

  // Slirp's sockets may have changed (guest traffic, notify): poll again soon.
  void schedule_round() {
    if (round_scheduled || closed) return;
    round_scheduled = true;
    loop.post([me = shared_from_this()] {
      me->round_scheduled = false;
      if (!me->closed) me->finish_round();
    });
  }

  void frame_for_guest(const void* buf, size_t len) {
    if (inbound.size() >= kMaxQueuedFrames || len + kVirtioNetHdrSize > kNetMaxPacketSize) {
      if (dropped++ % 1024 == 0) {
        spdlog::warn("virtio-net user: guest is not reading; {} frames dropped", dropped);
      }
      return;
    }
    std::vector<uint8_t> packet(kVirtioNetHdrSize + len, 0);
    std::memcpy(packet.data() + kVirtioNetHdrSize, buf, len);
    inbound.push_back(std::move(packet));
    if (armed) {
      armed = false;
      loop.post([me = shared_from_this()] {
        if (!me->closed && me->on_readable) me->on_readable();
      });
    }
  }
};

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

in_addr ipv4(const char* text) {
  in_addr a{};
  ::inet_pton(AF_INET, text, &a);
  return a;
}

// An aggregate of captureless lambdas turned into function pointers: it cannot throw.
// NOLINTNEXTLINE(cert-err58-cpp)
const SlirpCb kCallbacks = {
    .send_packet = [](const void* buf, size_t len, void* opaque) -> ssize_t {
      SlirpBackend::Impl::self(opaque).frame_for_guest(buf, len);
      return static_cast<ssize_t>(len);
    },
    .guest_error = [](const char* msg,
                      void* /*opaque*/) { spdlog::warn("virtio-net user: guest error: {}", msg); },
    .clock_get_ns = [](void* /*opaque*/) { return now_ns(); },
    .timer_new = [](SlirpTimerCb cb, void* cb_opaque, void* opaque) -> void* {
      auto& s = SlirpBackend::Impl::self(opaque);
      auto& t = s.timers.emplace_back(SlirpBackend::Impl::Timer{s.loop.make_timer()});
      t.cb = cb;
      t.cb_opaque = cb_opaque;
      return &t;
    },
    .timer_free =
        [](void* timer, void* opaque) {
          auto& s = SlirpBackend::Impl::self(opaque);
          s.timers.remove_if([timer](const SlirpBackend::Impl::Timer& t) { return &t == timer; });
        },
    .timer_mod =
        [](void* timer, int64_t expire_ms, void* opaque) {
          auto& s = SlirpBackend::Impl::self(opaque);
          auto* t = static_cast<SlirpBackend::Impl::Timer*>(timer);
          // slirp's clock is clock_get_ns below: the steady clock.
          t->timer.arm_at(EventLoop::Timer::Clock::time_point(std::chrono::milliseconds(expire_ms)),
                          [&s, t] {
                            if (s.closed) return;
                            t->cb(t->cb_opaque);
                            s.schedule_round();
                          });
        },
    .register_poll_fd = [](int /*fd*/, void* /*opaque*/) {},
    .unregister_poll_fd = [](int /*fd*/, void* /*opaque*/) {},
    .notify = [](void* opaque) { SlirpBackend::Impl::self(opaque).schedule_round(); },
    .init_completed = nullptr,  // SlirpConfig version 4 only
    .timer_new_opaque = nullptr,
};

}  // namespace

SlirpBackend::SlirpBackend(const std::vector<HostForward>& forwards, EventLoop& loop)
    : impl_(std::make_shared<Impl>(loop)), loop_(loop) {
  loop_.run_sync([this, &forwards] {
    SlirpConfig cfg{};
    cfg.version = 1;
    cfg.in_enabled = true;
    cfg.vnetwork = ipv4("10.0.2.0");
    cfg.vnetmask = ipv4("255.255.255.0");
    cfg.vhost = ipv4("10.0.2.2");
    cfg.vdhcp_start = ipv4("10.0.2.15");
    cfg.vnameserver = ipv4("10.0.2.3");
    cfg.if_mtu = 1500;
    cfg.if_mru = 1500;
    impl_->slirp = impl_->lib.new_instance(&cfg, &kCallbacks, impl_.get());
    if (impl_->slirp == nullptr) throw Error("cannot start user-mode networking (slirp_new)");
    for (const HostForward& f : forwards) {
      in_addr host{};
      if (::inet_pton(AF_INET, f.host_addr.c_str(), &host) != 1) {
        throw ConfigError("--net hostfwd: '" + f.host_addr + "' is not an IPv4 address");
      }
      if (impl_->lib.add_hostfwd(impl_->slirp, 0, host, f.host_port, ipv4("10.0.2.15"),
                                 f.guest_port) < 0) {
        throw ConfigError("--net hostfwd=tcp:" + f.host_addr + ":" + std::to_string(f.host_port) +
                          "-:" + std::to_string(f.guest_port) +
                          ": cannot listen on the host port (in use?)");
      }
    }
    impl_->start_round();
  });
}

SlirpBackend::~SlirpBackend() {
  try {
    loop_.run_sync([this] {
      impl_->closed = true;
      impl_->on_readable = nullptr;
      impl_->end_waits();
      if (impl_->slirp != nullptr) impl_->lib.cleanup(impl_->slirp);
      impl_->slirp = nullptr;
      impl_->timers.clear();
    });
  } catch (const std::exception& e) {
    spdlog::error("virtio-net user: shutdown failed: {}", e.what());
  }
}

void SlirpBackend::start(EventLoop& /*loop*/, std::function<void()> on_readable) {
  loop_.run_sync([this, &on_readable] {
    impl_->on_readable = std::move(on_readable);
    impl_->armed = false;
  });
}

void SlirpBackend::stop() {
  loop_.run_sync([this] {
    impl_->on_readable = nullptr;
    impl_->armed = false;
    impl_->inbound.clear();
  });
}

void SlirpBackend::wait_readable() {
  if (!impl_->inbound.empty()) {
    loop_.post([me = impl_] {
      if (!me->closed && me->on_readable) me->on_readable();
    });
    return;
  }
  impl_->armed = true;
}

size_t SlirpBackend::receive(std::span<const iovec> buffers) {
  if (impl_->inbound.empty()) return 0;
  std::vector<uint8_t> packet = std::move(impl_->inbound.front());
  impl_->inbound.pop_front();
  scatter(packet, buffers);  // a cut packet reports its full length: the device drops it
  return packet.size();
}

bool SlirpBackend::send(std::span<const iovec> segments) {
  // libslirp takes one flat frame.
  std::vector<uint8_t>& packet = impl_->send_buffer;
  packet.clear();
  gather(segments, packet);
  if (impl_->slirp == nullptr || packet.size() <= kVirtioNetHdrSize) return false;
  const auto frame = std::span<const uint8_t>(packet).subspan(kVirtioNetHdrSize);
  impl_->lib.input(impl_->slirp, frame.data(), static_cast<int>(frame.size()));
  impl_->schedule_round();
  return true;
}

}  // namespace vmm::virtio
