#include "vmm/virtio/net_tap.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstring>

#include "vmm/common/error.hpp"

namespace vmm::virtio {

namespace asio = boost::asio;

// Readiness of the TAP descriptor on the loop. The stream_descriptor owns a duplicate, so
// closing it never closes the TAP itself.
struct TapBackend::Watch {
  explicit Watch(asio::io_context& context) : descriptor(context) {}
  asio::posix::stream_descriptor descriptor;
  std::function<void()> on_readable;
  bool armed = false;
  EventLoop* loop = nullptr;
};

TapBackend::TapBackend(const std::string& name) : name_(name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    throw ConfigError("--net tap=" + name + ": not a valid interface name");
  }
  fd_.reset(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd_) {
    throw ConfigError("--net tap=" + name + ": cannot open /dev/net/tun: " + std::strerror(errno));
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd_.get(), TUNSETIFF, &ifr) < 0) {
    throw ConfigError("--net tap=" + name + ": cannot attach (TUNSETIFF): " + std::strerror(errno) +
                      (errno == EPERM ? " (needs CAP_NET_ADMIN or a TAP owned by this user)" : ""));
  }
  int hdr_size = static_cast<int>(kVirtioNetHdrSize);
  if (::ioctl(fd_.get(), TUNSETVNETHDRSZ, &hdr_size) < 0) {
    throw ConfigError("--net tap=" + name + ": TUNSETVNETHDRSZ failed: " + std::strerror(errno));
  }
  set_offloads(NetOffloads{});
  spdlog::debug("virtio-net: attached to TAP {}", name_);
}

TapBackend::~TapBackend() { stop(); }

void TapBackend::set_offloads(const NetOffloads& guest_accepts) {
  unsigned flags = 0;
  if (guest_accepts.csum) flags |= TUN_F_CSUM;
  if (guest_accepts.tso4) flags |= TUN_F_TSO4;
  if (guest_accepts.tso6) flags |= TUN_F_TSO6;
  if (guest_accepts.ufo) flags |= TUN_F_UFO;
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, flags) == 0) return;
  // Kernels without UFO on TAP refuse the whole set: keep the rest.
  if ((flags & TUN_F_UFO) != 0 && ::ioctl(fd_.get(), TUNSETOFFLOAD, flags & ~TUN_F_UFO) == 0) {
    return;
  }
  spdlog::warn("virtio-net {}: TUNSETOFFLOAD {:#x} failed: {}", name_, flags, std::strerror(errno));
}

void TapBackend::start(EventLoop& loop, std::function<void()> on_readable) {
  stop();
  const int dup = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) throw system_error("cannot duplicate TAP descriptor", errno);
  auto watch = std::make_unique<Watch>(loop.context());
  boost::system::error_code ec;
  watch->descriptor.assign(dup, ec);
  if (ec) {
    ::close(dup);
    throw Error("cannot watch TAP " + name_ + ": " + ec.message());
  }
  watch->on_readable = std::move(on_readable);
  watch->loop = &loop;
  watch_ = std::move(watch);
}

void TapBackend::stop() {
  if (!watch_) return;
  // Cancelled waits complete with operation_aborted on the loop; the handler captures the
  // Watch by shared ownership of nothing, so destroy it on the loop after cancelling.
  auto watch = std::move(watch_);
  EventLoop* loop = watch->loop;
  loop->run_sync([&watch] {
    boost::system::error_code ec;
    watch->descriptor.cancel(ec);
    watch->descriptor.close(ec);
    watch->on_readable = nullptr;
    watch->armed = false;
  });
  // The aborted completion may still be queued: let it run before the Watch goes away.
  loop->run_sync([] {});
}

void TapBackend::wait_readable() {
  // A TAP that went away stays readable (with errors): stop watching it instead of spinning.
  if (!watch_ || watch_->armed || failed_) return;
  watch_->armed = true;
  Watch* w = watch_.get();
  w->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                           [w](const boost::system::error_code& ec) {
                             if (ec) return;  // cancelled: w may be going away
                             w->armed = false;
                             if (w->on_readable) w->on_readable();
                           });
}

void TapBackend::report_error(const char* op, int error) {
  ++errors_;
  if (errors_ <= 16 || errors_ % 1024 == 0) {
    spdlog::warn("virtio-net {}: {} failed: {} ({} errors)", name_, op, std::strerror(error),
                 errors_);
  }
}

size_t TapBackend::receive(std::span<uint8_t> buffer) {
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buffer.data(), buffer.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      report_error("read", errno);
      failed_ = true;
    }
    return 0;
  }
}

bool TapBackend::send(std::span<const uint8_t> packet) {
  for (;;) {
    const ssize_t n = ::write(fd_.get(), packet.data(), packet.size());
    if (n >= 0) return static_cast<size_t>(n) == packet.size();
    if (errno == EINTR) continue;
    report_error("write", errno);
    return false;
  }
}

}  // namespace vmm::virtio
