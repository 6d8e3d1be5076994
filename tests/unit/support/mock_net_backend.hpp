#pragma once
// A NetBackend driven by the test: packets queued in Shared are offered to the device, packets
// the device sends are kept there.
#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/iovec_copy.hpp"
#include "vmm/virtio/net_backend.hpp"

namespace vmm::virtio::testing {

class MockNetBackend final : public NetBackend {
 public:
  struct Shared {
    std::mutex mutex;
    std::deque<std::vector<uint8_t>> inbound;
    std::vector<std::vector<uint8_t>> sent;
    NetOffloads offloads;
    int receive_calls = 0;
    size_t receive_segments = 0;  // of the last receive() that found a packet, send()
    size_t send_segments = 0;
    bool armed = false;
    EventLoop* loop = nullptr;
    std::function<void()> on_readable;
    bool offloads_supported = true;
    bool queue_active = true;  // set_queue_active()
  };
  explicit MockNetBackend(std::shared_ptr<Shared> s) : s_(std::move(s)) {}

  std::string describe() const override { return "mock"; }
  bool supports_offloads() const noexcept override { return s_->offloads_supported; }
  void set_offloads(const NetOffloads& o) override { s_->offloads = o; }
  void start(EventLoop& loop, std::function<void()> on_readable) override {
    std::lock_guard lock(s_->mutex);
    s_->loop = &loop;
    s_->on_readable = std::move(on_readable);
  }
  void stop() override {
    s_->loop->run_sync([this] {
      std::lock_guard lock(s_->mutex);
      s_->on_readable = nullptr;
      s_->armed = false;
    });
  }
  void wait_readable() override {
    std::lock_guard lock(s_->mutex);
    s_->armed = true;
  }
  size_t receive(std::span<const iovec> buffers) override {
    std::lock_guard lock(s_->mutex);
    ++s_->receive_calls;
    if (s_->inbound.empty()) return 0;
    s_->receive_segments = buffers.size();
    auto p = std::move(s_->inbound.front());
    s_->inbound.pop_front();
    scatter(p, buffers);
    return p.size();  // like a TAP: the full length even when cut
  }
  void set_queue_active(bool active) override {
    std::lock_guard lock(s_->mutex);
    s_->queue_active = active;
  }
  bool send(std::span<const iovec> segments) override {
    std::lock_guard lock(s_->mutex);
    s_->send_segments = segments.size();
    std::vector<uint8_t> packet;
    gather(segments, packet);
    s_->sent.push_back(std::move(packet));
    return true;
  }

 private:
  std::shared_ptr<Shared> s_;
};

}  // namespace vmm::virtio::testing
