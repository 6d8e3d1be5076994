#pragma once
// Rootless user-mode networking through libslirp: NAT to the host's sockets, DHCP (guest from
// 10.0.2.15) and DNS (10.0.2.3) on 10.0.2.0/24 with the host at 10.0.2.2, and TCP port
// forwards from the host into the guest. Slirp is single-threaded: every call into it, its
// timers and its socket polling run on the event loop thread.
//
// Frames carry no offloads (slirp wants complete frames), so no offload feature is offered.
// Frames slirp produces while the guest is not reading wait in a bounded queue; beyond that
// they are dropped and TCP retransmits them later.
#include <memory>
#include <vector>

#include "vmm/config/net_config.hpp"
#include "vmm/virtio/net_backend.hpp"

namespace vmm::virtio {

class SlirpBackend final : public NetBackend {
 public:
  static constexpr size_t kMaxQueuedFrames = 1024;

  // Throws vmm::ConfigError when a forward cannot be set up (port in use, bad address).
  SlirpBackend(const std::vector<HostForward>& forwards, EventLoop& loop);
  ~SlirpBackend() override;

  [[nodiscard]] std::string describe() const override { return "user"; }
  [[nodiscard]] bool supports_offloads() const noexcept override { return false; }
  void set_offloads(const NetOffloads& /*guest_accepts*/) override {}
  void start(EventLoop& loop, std::function<void()> on_readable) override;
  void stop() override;
  void wait_readable() override;
  [[nodiscard]] size_t receive(std::span<const iovec> buffers) override;
  bool send(std::span<const iovec> segments) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  EventLoop& loop_;
};

}  // namespace vmm::virtio
