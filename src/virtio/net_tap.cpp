#include "vmm/virtio/net_tap.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "vmm/common/error.hpp"
#include "vmm/confine/host_network.hpp"
#include "vmm/virtio/iovec_copy.hpp"

namespace vmm::virtio {

namespace {

// Brings `tap` up and makes it a port of `bridge`, as `ip link set TAP master BRIDGE up` does.
void join_bridge(const std::string& tap, const std::string& bridge) {
  const std::string what = "--net tap=" + tap + ",bridge=" + bridge + ": ";
  if (bridge.size() >= IFNAMSIZ) throw ConfigError(what + "not a valid bridge name");
  const UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) throw ConfigError(what + "socket: " + std::strerror(errno));
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, tap.data(), tap.size());
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0 ||
      (ifr.ifr_flags |= IFF_UP, ::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0)) {
    throw ConfigError(what + "cannot bring the TAP up: " + std::strerror(errno));
  }
  const unsigned index = ::if_nametoindex(tap.c_str());
  if (index == 0) throw ConfigError(what + "the TAP has no index: " + std::strerror(errno));
  ifreq port{};
  std::memcpy(port.ifr_name, bridge.data(), bridge.size());
  port.ifr_ifindex = static_cast<int>(index);
  if (::ioctl(sock.get(), SIOCBRADDIF, &port) < 0) {
    const int error = errno;
    // A port of some bridge already (a TAP made beforehand): fine when it is this one.
    std::error_code ec;
    const auto master =
        std::filesystem::read_symlink("/sys/class/net/" + tap + "/master", ec).filename();
    if (error == EBUSY && !ec && master == bridge) return;
    throw ConfigError(what + "cannot add the TAP to the bridge: " + std::strerror(error) +
                      (error == ENODEV || error == EOPNOTSUPP ? " (is it a bridge?)" : ""));
  }
}

}  // namespace

TapBackend::TapBackend(const std::string& name, const std::string& bridge, bool multi_queue)
    : name_(name), multi_queue_(multi_queue) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    throw ConfigError("--net tap=" + name + ": not a valid interface name");
  }
  // A jailed vmm attaches in the host's network namespace, where the TAP and its bridge are.
  const confine::HostNetworkScope host_network;
  fd_.reset(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd_) {
    throw ConfigError("--net tap=" + name + ": cannot open /dev/net/tun: " + std::strerror(errno));
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags =
      static_cast<short>(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0));
  if (::ioctl(fd_.get(), TUNSETIFF, &ifr) < 0) {
    const int error = errno;
    throw ConfigError(
        "--net tap=" + name + ": cannot attach (TUNSETIFF): " + std::strerror(error) +
        (error == EPERM ? " (needs CAP_NET_ADMIN or a TAP owned by this user)" : "") +
        (error == EINVAL && multi_queue
             ? " (queues= needs a TAP vmm creates or one made with 'ip tuntap ... multi_queue')"
             : ""));
  }
  int hdr_size = static_cast<int>(kVirtioNetHdrSize);
  if (::ioctl(fd_.get(), TUNSETVNETHDRSZ, &hdr_size) < 0) {
    throw ConfigError("--net tap=" + name + ": TUNSETVNETHDRSZ failed: " + std::strerror(errno));
  }
  set_offloads(NetOffloads{});
  if (!bridge.empty()) join_bridge(name, bridge);
  spdlog::debug("virtio-net: attached to TAP {}{}", name_,
                bridge.empty() ? std::string() : " on bridge " + bridge);
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

void TapBackend::set_queue_active(bool active) {
  if (!multi_queue_ || active == attached_) return;
  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(active ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE);
  if (::ioctl(fd_.get(), TUNSETQUEUE, &ifr) < 0) {
    report_error(active ? "attaching the queue" : "detaching the queue", errno);
    return;
  }
  attached_ = active;
}

void TapBackend::start(EventLoop& loop, std::function<void()> on_readable) {
  stop();
  on_readable_ = std::move(on_readable);
  watch_ = loop.watch_fd(fd_.get());
}

void TapBackend::stop() {
  watch_ = EventLoop::FdWatch();  // no readiness handler runs once this returns
  on_readable_ = nullptr;
}

void TapBackend::wait_readable() {
  // A TAP that went away stays readable (with errors): stop watching it instead of spinning.
  if (!watch_.active() || watch_.waiting() || failed_) return;
  watch_.wait(EventLoop::kReadable, [this] {
    if (on_readable_) on_readable_();
  });
}

void TapBackend::report_error(const char* op, int error) {
  ++errors_;
  if (errors_ <= 16 || errors_ % 1024 == 0) {
    spdlog::warn("virtio-net {}: {} failed: {} ({} errors)", name_, op, std::strerror(error),
                 errors_);
  }
}

size_t TapBackend::receive(std::span<const iovec> buffers) {
  for (;;) {
    const ssize_t n = ::readv(fd_.get(), buffers.data(), static_cast<int>(buffers.size()));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      report_error("read", errno);
      failed_ = true;
    }
    return 0;
  }
}

bool TapBackend::send(std::span<const iovec> segments) {
  for (;;) {
    const ssize_t n = ::writev(fd_.get(), segments.data(), static_cast<int>(segments.size()));
    if (n >= 0) return static_cast<size_t>(n) == iovec_total(segments);
    if (errno == EINTR) continue;
    report_error("write", errno);
    return false;
  }
}

}  // namespace vmm::virtio
