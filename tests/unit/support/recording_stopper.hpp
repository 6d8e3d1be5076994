#pragma once
// A VmStopper that records every stop request (thread-safe), for device and console tests.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "vmm/devices/vm_stopper.hpp"

namespace vmm::test {

class RecordingStopper final : public VmStopper {
 public:
  void request_stop(VmOutcome outcome) override {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(outcome));
    cv_.notify_all();
  }

  // Waits until at least one request arrived; false at the timeout.
  bool wait_for_request(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return !requests_.empty(); });
  }

  [[nodiscard]] std::vector<VmOutcome> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<VmOutcome> requests_;
};

}  // namespace vmm::test
