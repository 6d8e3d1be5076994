#pragma once
// Collects the first request to end the VM (from a device, a vCPU, the console or the VM's
// owner) and wakes whoever waits for it through an eventfd.
#include <atomic>
#include <mutex>

#include "vmm/common/unique_fd.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm {

class StopController final : public VmStopper {
 public:
  StopController();
  void request_stop(VmOutcome outcome) override;

  [[nodiscard]] bool stop_requested() const noexcept {
    return requested_.load(std::memory_order_acquire);
  }
  // Readable once a stop was requested (it stays readable); for poll().
  [[nodiscard]] int event_fd() const noexcept { return event_.get(); }
  // The first request; meaningful once stop_requested().
  [[nodiscard]] VmOutcome outcome() const;

 private:
  UniqueFd event_;
  std::atomic<bool> requested_{false};
  mutable std::mutex mutex_;
  VmOutcome outcome_;
};

}  // namespace vmm
