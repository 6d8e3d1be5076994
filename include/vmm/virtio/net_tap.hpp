#pragma once
// A TAP device as a NetBackend: /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, so every
// read and write carries the 12-byte virtio_net_hdr and offloads pass straight through. A TAP
// that vmm created (it did not exist) disappears when the descriptor closes. A multi-queue NIC
// has one TapBackend per queue pair, each a queue of one IFF_MULTI_QUEUE TAP.
#include <functional>
#include <string>

#include "vmm/common/unique_fd.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/net_backend.hpp"

namespace vmm::virtio {

class TapBackend final : public NetBackend {
 public:
  // Attaches to the TAP `name` or creates it; with a `bridge`, also brings it up and adds it
  // to that bridge (unless it is a port of it already). `multi_queue`: opens one more queue of
  // a multi-queue TAP (IFF_MULTI_QUEUE). Throws vmm::ConfigError saying why it cannot.
  explicit TapBackend(const std::string& name, const std::string& bridge = {},
                      bool multi_queue = false);
  ~TapBackend() override;

  [[nodiscard]] std::string describe() const override { return name_; }
  [[nodiscard]] bool supports_offloads() const noexcept override { return true; }
  // TUNSETOFFLOAD: what the kernel may hand us, i.e. what the guest accepts.
  void set_offloads(const NetOffloads& guest_accepts) override;
  void start(EventLoop& loop, std::function<void()> on_readable) override;
  void stop() override;
  void wait_readable() override;
  [[nodiscard]] size_t receive(std::span<const iovec> buffers) override;
  bool send(std::span<const iovec> segments) override;
  // TUNSETQUEUE: attaches or detaches this queue (multi-queue TAPs only).
  void set_queue_active(bool active) override;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  void report_error(const char* op, int error);

  std::string name_;
  UniqueFd fd_;
  EventLoop::FdWatch watch_;
  std::function<void()> on_readable_;
  uint64_t errors_ = 0;
  bool failed_ = false;  // reads failed for good: the interface is gone
  bool multi_queue_ = false;
  bool attached_ = true;
};

}  // namespace vmm::virtio
