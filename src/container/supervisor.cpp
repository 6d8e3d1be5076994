#include "container/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <optional>

#include "container/system_container.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

constexpr std::array<int, 9> kForwarded = {SIGINT,  SIGTERM,  SIGHUP,  SIGQUIT, SIGUSR1,
                                           SIGUSR2, SIGWINCH, SIGCONT, SIGCHLD};

// Puts the controlling terminal in raw mode for the life of the relay.
class RawTerminal final {
 public:
  RawTerminal() {
    if (::isatty(0) && ::tcgetattr(0, &saved_) == 0) {
      termios raw = saved_;
      ::cfmakeraw(&raw);
      active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

void copy_winsize(int to) {
  winsize ws{};
  if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// Moves what is readable from `from` to `to`; false at EOF or error.
bool pump(int from, int to) {
  std::array<char, 8192> buf{};
  const ssize_t n = ::read(from, buf.data(), buf.size());
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
  for (ssize_t off = 0; off < n;) {
    const ssize_t w = ::write(to, buf.data() + off, static_cast<size_t>(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += w;
  }
  return true;
}

// Copies what is left in `from` without waiting for more: a background process of an exec
// may still hold the terminal open.
void drain(int from, int to) {
  const int flags = ::fcntl(from, F_GETFL);
  if (flags < 0 || ::fcntl(from, F_SETFL, flags | O_NONBLOCK) < 0) return;
  std::array<char, 8192> buf{};
  for (;;) {
    const ssize_t n = ::read(from, buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const ssize_t w = ::write(to, buf.data() + off, static_cast<size_t>(n - off));
      if (w <= 0) return;
      off += w;
    }
  }
}

}  // namespace

ForwardedSignals::ForwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kForwarded) sigaddset(&set, s);
  if (::sigprocmask(SIG_BLOCK, &set, &old_) != 0) throw system_error("sigprocmask", errno);
  fd_ = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (fd_ < 0) {
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);
    throw system_error("signalfd", errno);
  }
}

ForwardedSignals::~ForwardedSignals() {
  ::close(fd_);
  ::sigprocmask(SIG_SETMASK, &old_, nullptr);
}

int supervise(LaunchedContainer& c, const ForwardedSignals& signals, bool system_init) {
  bool halt_asked = false;
  const int master = c.pty_master.get();
  std::optional<RawTerminal> raw;
  if (master >= 0) {
    raw.emplace();
    copy_winsize(master);
  }
  bool stdin_open = master >= 0;
  bool master_open = master >= 0;
  int status = 0;
  bool exited = false;
  while (!exited) {
    std::array<pollfd, 3> fds{{{signals.fd(), POLLIN, 0},
                               {stdin_open ? 0 : -1, POLLIN, 0},
                               {master_open ? master : -1, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw system_error("poll", errno);
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) stdin_open = pump(0, master);
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) master_open = pump(master, 1);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (::read(signals.fd(), &si, sizeof(si)) != sizeof(si)) continue;
      const int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGCHLD) {
        const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
        if (r == c.pid) exited = true;
      } else if (sig == SIGWINCH && master >= 0) {
        copy_winsize(master);
      } else if (system_init && (sig == SIGTERM || sig == SIGINT)) {
        // The init's root, as the container sees it, tells which init it is.
        ::kill(c.pid,
               halt_asked ? SIGKILL : halt_signal("/proc/" + std::to_string(c.pid) + "/root"));
        halt_asked = true;
      } else {
        ::kill(c.pid, sig);
      }
    }
  }
  c.pid = -1;  // reaped
  if (master_open) drain(master, 1);
  if (const uint64_t kills = c.cgroup.oom_kills(); kills > 0) {
    std::fprintf(
        stderr,
        "vmm: the container exceeded its memory limit: the OOM killer killed %llu process(es)\n",
        static_cast<unsigned long long>(kills));
  }
  // An init's reboot(2) in a PID namespace ends it with SIGINT (halt, power-off) or SIGHUP
  // (reboot): the system shut down as asked, which is a success.
  if (system_init && WIFSIGNALED(status) &&
      (WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGHUP)) {
    return 0;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace vmm::container
