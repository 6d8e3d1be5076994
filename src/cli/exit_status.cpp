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

const char* exec_failure_reason(const VmOutcome& outcome, const OwnerStop& owner) noexcept {
  switch (outcome.reason) {
    case StopReason::kDebugExit:
      return outcome.debug_exit_value <= 0xff ? ""
                                              : "the guest could not run the command (its "
                                                "init said why above)";
    case StopReason::kGuestPanic:
      return "the guest kernel panicked before the command's status came back";
    case StopReason::kGuestReset:
      return "the guest rebooted before the command's status came back (a kernel panic "
             "reboots it)";
    case StopReason::kGuestPowerOff:
      return "the guest powered off before the command's status came back";
    case StopReason::kConsoleEscape:
      return "the console's escape ended the guest before the command's status came back";
    case StopReason::kRequested:
      if (owner.signal != 0 || owner.timed_out) return "";
      return "the VM was stopped before the command's status came back";
    case StopReason::kError:
      break;
  }
  return "";
}

int exec_exit_status(const VmOutcome& outcome, const OwnerStop& owner) noexcept {
  if (outcome.reason == StopReason::kError) return static_cast<int>(ExitStatus::kRuntimeError);
  if (outcome.reason == StopReason::kRequested) {
    if (owner.signal != 0) return 128 + owner.signal;
    if (owner.timed_out) return static_cast<int>(ExitStatus::kTimeout);
  }
  if (outcome.reason == StopReason::kDebugExit && outcome.debug_exit_value <= 0xff) {
    return static_cast<int>(outcome.debug_exit_value);
  }
  return kExecNoStatus;
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
