// `vmm run --exec`: the guest directory the command starts in, the root share it needs, and
// the exit statuses it ends with.
#include "cli/host_exec_option.hpp"

#include <gtest/gtest.h>

#include "cli/exit_status.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

TEST(HostExecOption, GuestCwdInsideAndOutsideTheRoot) {
  EXPECT_EQ(guest_cwd("/", "/home/u/src"), "/home/u/src");
  EXPECT_EQ(guest_cwd("/", "/"), "/");
  EXPECT_EQ(guest_cwd("/srv/root", "/srv/root/home/u"), "/home/u");
  EXPECT_EQ(guest_cwd("/srv/root", "/srv/root"), "/");
  EXPECT_EQ(guest_cwd("/srv/root", "/srv/rootless/x"), "/");  // a sibling, not inside
  EXPECT_EQ(guest_cwd("/srv/root", "/home/u"), "/");
}

TEST(HostExecOption, NeedsAShareTaggedRootAndACommand) {
  const std::vector<ShareConfig> data = {{.path = "/", .tag = "data", .read_only = true}};
  EXPECT_THROW((void)host_exec_config("true", data), ConfigError);
  const std::vector<ShareConfig> root = {{.path = "/", .tag = "root", .read_only = true}};
  EXPECT_THROW((void)host_exec_config("", root), ConfigError);
  const HostExecConfig config = host_exec_config("echo hi", root);
  EXPECT_EQ(config.command, "echo hi");
  EXPECT_EQ(config.cwd, std::filesystem::current_path().string());
}

TEST(HostExecExitStatus, TheCommandsStatusComesBackAsIs) {
  const OwnerStop none;
  for (const uint64_t status : {0U, 1U, 7U, 125U, 143U, 255U}) {
    const VmOutcome outcome{.reason = StopReason::kDebugExit, .debug_exit_value = status};
    EXPECT_EQ(exec_exit_status(outcome, none), static_cast<int>(status));
    EXPECT_STREQ(exec_failure_reason(outcome, none), "");
  }
}

TEST(HostExecExitStatus, AGuestThatEndsWithoutAStatusIs125) {
  const OwnerStop none;
  for (const StopReason reason : {StopReason::kGuestPanic, StopReason::kGuestReset,
                                  StopReason::kGuestPowerOff, StopReason::kConsoleEscape}) {
    const VmOutcome outcome{.reason = reason};
    EXPECT_EQ(exec_exit_status(outcome, none), kExecNoStatus);
    EXPECT_STRNE(exec_failure_reason(outcome, none), "");
  }
  // The init's own failure, and values no status can have.
  for (const uint64_t value : {0x100ULL, 0x1ffULL, ~0ULL}) {
    const VmOutcome outcome{.reason = StopReason::kDebugExit, .debug_exit_value = value};
    EXPECT_EQ(exec_exit_status(outcome, none), kExecNoStatus);
    EXPECT_STRNE(exec_failure_reason(outcome, none), "");
  }
}

TEST(HostExecExitStatus, TimeoutSignalsAndErrorsAsWithoutExec) {
  const VmOutcome requested{.reason = StopReason::kRequested};
  EXPECT_EQ(exec_exit_status(requested, OwnerStop{.signal = 15}), 143);
  EXPECT_EQ(exec_exit_status(requested, OwnerStop{.timed_out = true}), 124);
  EXPECT_STREQ(exec_failure_reason(requested, OwnerStop{.timed_out = true}), "");
  EXPECT_EQ(exec_exit_status(VmOutcome{.reason = StopReason::kError}, OwnerStop{}), 1);
}

}  // namespace
}  // namespace vmm::cli
