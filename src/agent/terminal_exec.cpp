// run_exec_on_terminal: a remote command on the user's terminal, as `vmm exec` shows it.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <optional>

#include "agent/agent_client.hpp"

namespace vmm::agent {
namespace {

// The write end of the self-pipe the signal handlers write to (one exec at a time per process).
volatile sig_atomic_t g_signal_pipe = -1;

extern "C" void note_signal(int signo) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(signo);
  if (g_signal_pipe >= 0) [[maybe_unused]]
    const ssize_t n = ::write(g_signal_pipe, &byte, 1);
  errno = saved;
}

// Handlers for the signals to forward, and the self-pipe they write to; the previous handlers
// are back when this ends, whatever way the exec ends.
class SignalForwarding final {
 public:
  explicit SignalForwarding(std::initializer_list<int> signals) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC | O_NONBLOCK) != 0) {
      throw system_error("guest agent: pipe", errno);
    }
    read_end_.reset(fds[0]);
    write_end_.reset(fds[1]);
    g_signal_pipe = write_end_.get();
    for (const int signo : signals) {
      struct sigaction action {};
      action.sa_handler = note_signal;
      sigemptyset(&action.sa_mask);
      action.sa_flags = SA_RESTART;
      struct sigaction previous {};
      if (::sigaction(signo, &action, &previous) == 0) saved_.push_back({signo, previous});
    }
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;
  ~SignalForwarding() {
    for (const auto& [signo, previous] : saved_) ::sigaction(signo, &previous, nullptr);
    g_signal_pipe = -1;
  }
  [[nodiscard]] int fd() const noexcept { return read_end_.get(); }

 private:
  UniqueFd read_end_;
  UniqueFd write_end_;
  std::vector<std::pair<int, struct sigaction>> saved_;
};

// The terminal in raw mode while it lives: keys reach the remote pty as they are typed.
class RawTerminal final {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) throw system_error("guest agent: tcgetattr", errno);
    termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd_, TCSANOW, &raw) != 0) throw system_error("guest agent: tcsetattr", errno);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal() { ::tcsetattr(fd_, TCSAFLUSH, &saved_); }

 private:
  int fd_;
  termios saved_{};
};

std::optional<winsize> terminal_size(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_row == 0 || size.ws_col == 0) {
    return std::nullopt;
  }
  return size;
}

}  // namespace

int run_exec_on_terminal(AgentConnection& connection, ExecRequest request) {
  const bool terminal = request.pty && ::isatty(STDIN_FILENO) == 1;
  if (terminal) {
    if (const auto size = terminal_size(STDIN_FILENO)) {
      request.rows = size->ws_row;
      request.cols = size->ws_col;
    }
  }
  // SIGINT, SIGTERM and SIGHUP go to the command either way; in raw mode Ctrl-C is a byte on
  // the pty instead, but a kill of this process must still reach the command and restore the
  // terminal.
  SignalForwarding forwarding = terminal ? SignalForwarding{SIGINT, SIGTERM, SIGHUP, SIGWINCH}
                                         : SignalForwarding{SIGINT, SIGTERM, SIGHUP};
  std::optional<RawTerminal> raw;
  if (terminal) raw.emplace(STDIN_FILENO);

  ExecIo io;
  io.stdin_fd = ::fcntl(STDIN_FILENO, F_GETFD) >= 0 ? STDIN_FILENO : -1;
  io.stdout_fd = STDOUT_FILENO;
  io.stderr_fd = STDERR_FILENO;
  ExecControl control;
  control.fd = forwarding.fd();
  control.on_ready = [&](ExecChannel& channel) {
    std::array<unsigned char, 64> signals{};
    const ssize_t n = ::read(forwarding.fd(), signals.data(), signals.size());
    for (ssize_t i = 0; i < n; ++i) {
      const int signo = signals[static_cast<size_t>(i)];
      if (signo == SIGWINCH) {
        if (const auto size = terminal_size(STDIN_FILENO))
          channel.resize(size->ws_row, size->ws_col);
      } else {
        channel.signal(signo);
      }
    }
  };
  return connection.exec(request, io, control);
}

}  // namespace vmm::agent
