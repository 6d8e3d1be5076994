// The pieces of the --exec guest init that run anywhere: the shell's status rule and the
// overlay's mount options.
#include "agent/host_exec_init.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace vmm::agent {
namespace {

int status_of_child(void (*body)()) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

TEST(HostExecInit, ShellStatusIsTheExitCode) {
  EXPECT_EQ(shell_status(status_of_child([] { _exit(7); })), 7);
  EXPECT_EQ(shell_status(status_of_child([] { _exit(0); })), 0);
  EXPECT_EQ(shell_status(status_of_child([] { _exit(255); })), 255);
}

TEST(HostExecInit, ShellStatusOfASignalIs128PlusIt) {
  EXPECT_EQ(shell_status(status_of_child([] { ::raise(SIGTERM); })), 128 + SIGTERM);
  EXPECT_EQ(shell_status(status_of_child([] { ::raise(SIGKILL); })), 128 + SIGKILL);
}

TEST(HostExecInit, OverlayOptionsNameTheThreeLayers) {
  EXPECT_EQ(overlay_options("/vmm/lower", "/vmm/rw/upper", "/vmm/rw/work"),
            "lowerdir=/vmm/lower,upperdir=/vmm/rw/upper,workdir=/vmm/rw/work");
}

TEST(HostExecInit, AHostIsNoExecInitramfs) { EXPECT_FALSE(is_host_exec_initramfs()); }

}  // namespace
}  // namespace vmm::agent
