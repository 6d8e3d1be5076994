#include "vmm/host_console.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>
#include <utility>

#include "vmm/common/error.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace vmm {
namespace {

// The terminal state to restore, shared with the signal handler. g_saved_termios is written
// before g_raw_fd publishes it, and only read while g_raw_fd is valid.
static_assert(std::atomic<int>::is_always_lock_free, "signal handlers need a lock-free atomic");
std::atomic<int> g_raw_fd{-1};
termios g_saved_termios{};

}  // namespace

void restore_terminal_from_signal() noexcept {
  const int saved_errno = errno;
  const int fd = g_raw_fd.load();
  if (fd >= 0) ::tcsetattr(fd, TCSANOW, &g_saved_termios);
  errno = saved_errno;
}

TerminalRawMode::TerminalRawMode(int fd) : fd_(fd) {
  if (::isatty(fd) == 0) return;  // a pipe or a file: nothing to switch
  termios saved{};
  if (::tcgetattr(fd, &saved) != 0) throw system_error("console: tcgetattr", errno);
  if (g_raw_fd.load() >= 0) throw Error("console: the terminal is already in raw mode");
  g_saved_termios = saved;
  g_raw_fd.store(fd);

  termios raw = saved;
  // Every key goes to the guest (Ctrl-c included: Ctrl-a x is the way out), unechoed, unedited.
  raw.c_iflag &=
      ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  raw.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB);
  raw.c_cflag |= CS8;
  // Output post-processing stays on so host log lines on the same terminal start at column 0.
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (::tcsetattr(fd, TCSANOW, &raw) != 0) {
    const int err = errno;
    g_raw_fd.store(-1);
    throw system_error("console: cannot put the terminal in raw mode", err);
  }
  active_ = true;
}

TerminalRawMode::~TerminalRawMode() { restore(); }

void TerminalRawMode::restore() noexcept {
  if (!active_) return;
  active_ = false;
  // TCSADRAIN: let the guest's last output reach the screen under the settings it was sent with.
  if (::tcsetattr(fd_, TCSADRAIN, &g_saved_termios) != 0) {
    spdlog::warn("console: cannot restore the terminal settings (errno {})", errno);
  }
  g_raw_fd.store(-1);
}

void FdOutput::write(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes = bytes.subspan(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // A non-blocking stdout (shared with another process): wait until it takes more.
      pollfd pfd{fd_, POLLOUT, 0};
      if (::poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
    }
    if (!failed_.exchange(true)) {
      spdlog::warn("console: guest output lost, cannot write to fd {} (errno {})", fd_, errno);
    }
    return;
  }
}

void FdOutput::flush() {
  // Nothing is held in user space: every byte is already with the kernel when write() returns.
}

ConsoleEscape::Result ConsoleEscape::filter(std::span<const uint8_t> input) {
  Result result;
  result.to_guest.reserve(input.size() + 1);
  for (const uint8_t byte : input) {
    if (escape_pending_) {
      escape_pending_ = false;
      if (byte == kQuitByte) {
        result.quit = true;
        return result;
      }
      result.to_guest.push_back(kEscapeByte);
      if (byte != kEscapeByte) result.to_guest.push_back(byte);
    } else if (byte == kEscapeByte) {
      escape_pending_ = true;
    } else {
      result.to_guest.push_back(byte);
    }
  }
  return result;
}

HostConsoleInput::HostConsoleInput(int in_fd, ConsoleInputSink sink, VmStopper& stopper,
                                   Options options)
    : in_fd_(in_fd), sink_(std::move(sink)), stopper_(stopper), options_(options) {
  if (!sink_) throw Error("console: no input sink");
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw system_error("console: eventfd", errno);
  thread_ = std::thread([this] { run(); });
}

HostConsoleInput::~HostConsoleInput() { stop(); }

void HostConsoleInput::stop() noexcept {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  // The eventfd stays readable once written, so the thread sees it whenever it next waits.
  while (::write(wake_fd_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  thread_.join();
}

void HostConsoleInput::run() {
  confine::confine_this_thread(confine::ThreadKind::kConsole);
  try {
    std::array<uint8_t, kReadChunk> buffer{};
    ConsoleEscape escape;
    int fd = in_fd_;  // -1 once stdin is exhausted: then only a stop request ends the wait
    while (wait(fd, -1)) {
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n == 0) {
        SPDLOG_DEBUG("console: end of input, the guest keeps running");
        fd = -1;
        continue;
      }
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        spdlog::warn("console: cannot read input (errno {}), input disabled", errno);
        fd = -1;
        continue;
      }
      const std::span<const uint8_t> bytes(buffer.data(), static_cast<size_t>(n));
      if (!options_.escape_sequences) {
        if (!deliver(bytes)) return;
        continue;
      }
      const ConsoleEscape::Result result = escape.filter(bytes);
      if (!deliver(result.to_guest)) return;
      if (result.quit) {
        spdlog::info("console: Ctrl-a x, stopping the VM");
        stopper_.request_stop({.reason = StopReason::kConsoleEscape});
        return;
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("console: input thread failed: {}", e.what());
    stopper_.request_stop(
        {.reason = StopReason::kError, .error = std::string("console input: ") + e.what()});
  }
}

bool HostConsoleInput::deliver(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    const size_t accepted = std::min(sink_(bytes), bytes.size());
    bytes = bytes.subspan(accepted);
    // The guest has not drained its queue yet: back off instead of spinning.
    if (!bytes.empty() && !wait(-1, kRetryIntervalMs)) return false;
  }
  return true;
}

bool HostConsoleInput::wait(int fd, int timeout_ms) {
  std::array<pollfd, 2> fds{{{wake_fd_.get(), POLLIN, 0}, {fd, POLLIN, 0}}};
  for (;;) {
    const int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw system_error("console: poll", errno);
    }
    // poll ignores a negative fd, so fd == -1 waits for the timeout or a stop request only.
    return fds[0].revents == 0;
  }
}

}  // namespace vmm
