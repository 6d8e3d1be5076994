#pragma once
// An IrqLine that records every level the device set.
#include <atomic>
#include <mutex>
#include <vector>

#include "vmm/devices/irq_line.hpp"

namespace vmm::testing {

class RecordingIrqLine final : public IrqLine {
 public:
  void set_level(bool asserted) override {
    std::lock_guard lock(mutex_);
    transitions_.push_back(asserted);
    level_ = asserted;
  }
  [[nodiscard]] bool level() const noexcept { return level_.load(); }
  [[nodiscard]] std::vector<bool> transitions() {
    std::lock_guard lock(mutex_);
    return transitions_;
  }

 private:
  std::mutex mutex_;
  std::vector<bool> transitions_;
  std::atomic<bool> level_{false};
};

}  // namespace vmm::testing
