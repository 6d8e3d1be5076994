#pragma once
// A VirtioInterrupt that records what the device asked for.
#include <array>
#include <atomic>
#include <cstdint>

#include "vmm/virtio/virtio_device.hpp"

namespace vmm::virtio::testing {

class FakeVirtioInterrupt final : public VirtioInterrupt {
 public:
  void signal_used_queue(uint16_t queue) override {
    last_queue = queue;
    ++used_signals;
    if (queue < signals_per_queue.size()) ++signals_per_queue[queue];
  }
  void signal_config_change() override { ++config_signals; }
  void set_device_needs_reset() override { needs_reset = true; }

  std::atomic<int> used_signals{0};
  std::atomic<int> config_signals{0};
  std::atomic<uint16_t> last_queue{0};
  std::array<std::atomic<int>, 16> signals_per_queue{};
  std::atomic<bool> needs_reset{false};
};

}  // namespace vmm::virtio::testing
