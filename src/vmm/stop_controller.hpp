#pragma once
// Collects the first request to end the VM (from a device, the console, a timer or a signal)
// and wakes the thread waiting for it through an eventfd.
#include <atomic>
#include <mutex>
#include <optional>

#include "vmm/common/unique_fd.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm {

class StopController final : public VmStopper {
 public:
  StopController();
  void request_stop(StopReason reason, int exit_status) override;

  [[nodiscard]] bool stop_requested() const noexcept {
    return requested_.load(std::memory_order_acquire);
  }
  // Readable once a stop was requested; for poll().
  [[nodiscard]] int event_fd() const noexcept { return event_.get(); }
  [[nodiscard]] StopReason reason() const;
  [[nodiscard]] int exit_status() const;

 private:
  UniqueFd event_;
  std::atomic<bool> requested_{false};
  mutable std::mutex mutex_;
  StopReason reason_ = StopReason::kError;
  int exit_status_ = 1;
};

}  // namespace vmm
