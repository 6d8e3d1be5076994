// The documented exit statuses of `vmm run`, from what ended the VM and why the CLI asked.
#include "cli/exit_status.hpp"

#include <gtest/gtest.h>
#include <signal.h>

namespace vmm::cli {
namespace {

TEST(ExitStatus, GuestEndsAreCleanZero) {
  for (StopReason r :
       {StopReason::kGuestReset, StopReason::kGuestPowerOff, StopReason::kConsoleEscape}) {
    EXPECT_EQ(exit_status(VmOutcome{.reason = r}, {}), 0) << to_string(r);
  }
}

TEST(ExitStatus, GuestPanicIsItsOwnStatusNeverSuccess) {
  EXPECT_EQ(exit_status(VmOutcome{.reason = StopReason::kGuestPanic}, {}), 4);
  // Not any debug-exit status either (those are odd).
  EXPECT_EQ(exit_status(VmOutcome{.reason = StopReason::kGuestPanic}, {}) % 2, 0);
}

TEST(ExitStatus, DebugExitIsQemuCompatibleAndNeverZero) {
  auto status = [](uint64_t v) {
    return exit_status(VmOutcome{.reason = StopReason::kDebugExit, .debug_exit_value = v}, {});
  };
  EXPECT_EQ(status(3), 7);
  EXPECT_EQ(status(0x10), 0x21);
  EXPECT_EQ(status(0x180), 0x01);  // 0x301 mod 256
  EXPECT_EQ(status(0), 1);
  EXPECT_EQ(status(0x7f), 0xff);
  EXPECT_EQ(status(UINT64_MAX), 0xff);
}

TEST(ExitStatus, OwnerRequestsSaySignalOrTimeout) {
  const VmOutcome requested{.reason = StopReason::kRequested};
  EXPECT_EQ(exit_status(requested, {.signal = SIGTERM}), 143);
  EXPECT_EQ(exit_status(requested, {.signal = SIGINT}), 130);
  EXPECT_EQ(exit_status(requested, {.timed_out = true}), 124);
  // The guest won the race against the timer: its outcome counts.
  EXPECT_EQ(exit_status(VmOutcome{.reason = StopReason::kGuestReset}, {.timed_out = true}), 0);
}

TEST(ExitStatus, ErrorsAreOneAndUserErrorsTwo) {
  EXPECT_EQ(exit_status(VmOutcome{.reason = StopReason::kError, .error = "vcpu0: boom"}, {}), 1);
  EXPECT_EQ(exit_status(ErrorKind::kInvalidConfig), 2);
  EXPECT_EQ(exit_status(ErrorKind::kHostResource), 2);
  EXPECT_EQ(exit_status(ErrorKind::kRuntime), 1);
}

}  // namespace
}  // namespace vmm::cli
