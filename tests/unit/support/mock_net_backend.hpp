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
    bool armed = false;
    EventLoop* loop = nullptr;
    std::function<void()> on_readable;
    bool offloads_supported = true;
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
  size_t receive(std::span<uint8_t> buffer) override {
    std::lock_guard lock(s_->mutex);
    ++s_->receive_calls;
    if (s_->inbound.empty()) return 0;
    auto p = std::move(s_->inbound.front());
    s_->inbound.pop_front();
    const size_t n = std::min(p.size(), buffer.size());
    std::memcpy(buffer.data(), p.data(), n);
    return n;
  }
  bool send(std::span<const uint8_t> packet) override {
    std::lock_guard lock(s_->mutex);
    s_->sent.emplace_back(packet.begin(), packet.end());
    return true;
  }

 private:
  std::shared_ptr<Shared> s_;
};

}  // namespace vmm::virtio::testing
