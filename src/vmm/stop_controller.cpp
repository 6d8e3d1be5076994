#include "vmm/stop_controller.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "vmm/common/error.hpp"

namespace vmm {

StopController::StopController() : event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!event_) throw system_error("eventfd", errno);
}

void StopController::request_stop(StopReason reason, int exit_status) {
  {
    std::lock_guard lock(mutex_);
    if (requested_.load(std::memory_order_relaxed)) return;  // the first request wins
    reason_ = reason;
    exit_status_ = exit_status;
    requested_.store(true, std::memory_order_release);
  }
  const uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(event_.get(), &one, sizeof(one));
}

StopReason StopController::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

int StopController::exit_status() const {
  std::lock_guard lock(mutex_);
  return exit_status_;
}

}  // namespace vmm
