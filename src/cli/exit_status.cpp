#include "cli/exit_status.hpp"

namespace vmm::cli {

int exit_status(const VmOutcome& outcome, const OwnerStop& owner) noexcept {
  switch (outcome.reason) {
    case StopReason::kGuestReset:
    case StopReason::kGuestPowerOff:
    case StopReason::kConsoleEscape:
      return static_cast<int>(ExitStatus::kOk);
    case StopReason::kGuestPanic:
      return static_cast<int>(ExitStatus::kGuestPanic);
    case StopReason::kDebugExit:
      return debug_exit_status(outcome.debug_exit_value);
    case StopReason::kRequested:
      if (owner.signal != 0) return 128 + owner.signal;
      if (owner.timed_out) return static_cast<int>(ExitStatus::kTimeout);
      return static_cast<int>(ExitStatus::kOk);
    case StopReason::kError:
      break;
  }
  return static_cast<int>(ExitStatus::kRuntimeError);
}

int exit_status(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::kInvalidConfig:
    case ErrorKind::kHostResource:
    case ErrorKind::kInvalidState:
    case ErrorKind::kNotFound:
      return static_cast<int>(ExitStatus::kUsageError);
    case ErrorKind::kRuntime:
      break;
  }
  return static_cast<int>(ExitStatus::kRuntimeError);
}

}  // namespace vmm::cli
