#include "vmm/stop_controller.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "vmm/common/error.hpp"

namespace vmm {

const char* to_string(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::kGuestReset:
      return "guest-reset";
    case StopReason::kGuestPowerOff:
      return "guest-power-off";
    case StopReason::kGuestPanic:
      return "guest-panic";
    case StopReason::kDebugExit:
      return "debug-exit";
    case StopReason::kConsoleEscape:
      return "console-escape";
    case StopReason::kRequested:
      return "requested";
    case StopReason::kError:
      return "error";
  }
  return "unknown";
}

StopController::StopController() : event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!event_) throw system_error("eventfd", errno);
}

void StopController::request_stop(VmOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    if (requested_.load(std::memory_order_relaxed)) return;  // the first request wins
    outcome_ = std::move(outcome);
    requested_.store(true, std::memory_order_release);
  }
  // The counter is never read back, so the fd stays readable for every later poll.
  const uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(event_.get(), &one, sizeof(one));
}

VmOutcome StopController::outcome() const {
  std::lock_guard lock(mutex_);
  return outcome_;
}

}  // namespace vmm
