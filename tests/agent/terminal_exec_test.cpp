// run_exec_on_terminal as a user meets it: a front end (vmm_agent_terminal_runner) on a real
// pty the test holds the master of, running commands through the real agent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "agent/frame_io.hpp"
#include "agent_process.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::agent {
namespace {

using namespace std::chrono_literals;

bool wait_for_output(int fd, std::string& seen, const std::string& needle) {
  const auto deadline = Clock::now() + 10s;
  while (seen.find(needle) == std::string::npos) {
    pollfd pfd{fd, POLLIN, 0};
    const int left = poll_timeout(deadline);
    if (left == 0 || ::poll(&pfd, 1, left) <= 0) return false;
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) return false;
    seen.append(buffer.data(), static_cast<size_t>(n));
  }
  return true;
}

int wait_exit(pid_t pid) {
  for (int i = 0; i < 400; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(25ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -2;
}

void type(int fd, const std::string& text) {
  write_all(fd, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

TEST(TerminalExec, PtyRawModeWindowSizeAndRestore) {
  test::AgentProcess agent;
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(master);
  ASSERT_EQ(::grantpt(master.get()), 0);
  ASSERT_EQ(::unlockpt(master.get()), 0);
  const std::string slave_name = ::ptsname(master.get());
  winsize size{};
  size.ws_row = 30;
  size.ws_col = 100;
  ASSERT_EQ(::ioctl(master.get(), TIOCSWINSZ, &size), 0);
  // The test's own view of the runner's terminal modes.
  UniqueFd slave(::open(slave_name.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(slave);
  termios before{};
  ASSERT_EQ(::tcgetattr(slave.get(), &before), 0);
  ASSERT_NE(before.c_lflag & ICANON, 0U);

  const pid_t runner = ::fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    ::setsid();
    const int terminal = ::open(slave_name.c_str(), O_RDWR);
    ::ioctl(terminal, TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd) ::dup2(terminal, fd);
    const std::string socket = agent.socket().string();
    ::execl(VMM_AGENT_TERMINAL_RUNNER, VMM_AGENT_TERMINAL_RUNNER, socket.c_str(), "pty", "sh",
            nullptr);
    _exit(127);
  }
  std::string seen;
  type(master.get(), "stty size\r");
  EXPECT_TRUE(wait_for_output(master.get(), seen, "30 100")) << seen;
  termios during{};
  ASSERT_EQ(::tcgetattr(slave.get(), &during), 0);
  EXPECT_EQ(during.c_lflag & (ICANON | ECHO | ISIG), 0U) << "the runner's terminal is not raw";

  // A new window size reaches the remote pty through SIGWINCH and RESIZE.
  size.ws_row = 40;
  size.ws_col = 120;
  ASSERT_EQ(::ioctl(master.get(), TIOCSWINSZ, &size), 0);
  std::this_thread::sleep_for(200ms);
  type(master.get(), "stty size\r");
  EXPECT_TRUE(wait_for_output(master.get(), seen, "40 120")) << seen;

  type(master.get(), "exit 4\r");
  EXPECT_EQ(wait_exit(runner), 4) << seen;
  termios after{};
  ASSERT_EQ(::tcgetattr(slave.get(), &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag) << "terminal modes not restored";
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
}

TEST(TerminalExec, SignalsAreForwardedWithoutPty) {
  test::AgentProcess agent;
  std::array<int, 2> out{};
  ASSERT_EQ(::pipe2(out.data(), O_CLOEXEC), 0);
  UniqueFd out_read(out[0]);
  UniqueFd out_write(out[1]);
  const pid_t runner = ::fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out_write.get(), 1);
    const std::string socket = agent.socket().string();
    ::execl(VMM_AGENT_TERMINAL_RUNNER, VMM_AGENT_TERMINAL_RUNNER, socket.c_str(), "pipes", "sh",
            "-c", "trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.05; done",
            nullptr);
    _exit(127);
  }
  out_write.reset();
  std::string seen;
  EXPECT_TRUE(wait_for_output(out_read.get(), seen, "ready")) << seen;
  ASSERT_EQ(::kill(runner, SIGINT), 0);
  EXPECT_EQ(wait_exit(runner), 9) << seen;
  EXPECT_TRUE(wait_for_output(out_read.get(), seen, "got-int")) << seen;
}

}  // namespace
}  // namespace vmm::agent
