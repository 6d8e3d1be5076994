#include "agent/agent_exec.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "agent/frame_io.hpp"
#include "vmm/common/unique_fd.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): set for execvp's PATH search

namespace vmm::agent {
namespace {

using namespace std::chrono_literals;

// How long output is still relayed after the command exited while something (a background
// grandchild) keeps its stdout or stderr open: the grace restarts with each chunk read, up to
// the cap, so output already in the pipes is never cut.
constexpr auto kDrainGrace = 250ms;
constexpr auto kDrainCap = 10s;

// What the child reports on the CLOEXEC pipe when it fails before or in execvp.
enum class ChildStage : int { kExec, kTerminal, kGroups, kGid, kUid, kDirectory };
struct ChildFailure {
  ChildStage stage = ChildStage::kExec;
  int error_number = 0;
};

const char* stage_name(ChildStage stage) {
  switch (stage) {
    case ChildStage::kExec:
      return "exec";
    case ChildStage::kTerminal:
      return "terminal setup";
    case ChildStage::kGroups:
      return "setgroups";
    case ChildStage::kGid:
      return "setgid";
    case ChildStage::kUid:
      return "setuid";
    case ChildStage::kDirectory:
      return "chdir";
  }
  return "setup";
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw system_error("vmm-agent: fcntl", errno);
  }
}

std::array<UniqueFd, 2> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw system_error("vmm-agent: pipe", errno);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// The descriptors of one run: a pty's master, or three pipes; the child's ends close after fork.
struct Stdio {
  UniqueFd master;  // pty: both directions
  UniqueFd child_terminal;
  std::array<UniqueFd, 2> in, out, err;
};

// A guest whose init mounts no devpts (a minimal busybox root) has no pseudo-terminals: the
// agent mounts one where every init system would, as the kernel's own devpts defaults.
UniqueFd open_pty_master() {
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master || (errno != ENOENT && errno != ENODEV)) return master;
  const int saved = errno;
  ::mkdir("/dev/pts", 0755);
  if (::mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "gid=5,mode=620,ptmxmode=666") != 0 &&
      errno != EBUSY) {
    errno = saved;
    return master;
  }
  struct stat st {};
  if (::lstat("/dev/ptmx", &st) != 0) (void)::symlink("pts/ptmx", "/dev/ptmx");
  master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  return master;
}

Stdio make_stdio(const ExecRequest& request) {
  Stdio stdio;
  if (request.pty) {
    stdio.master = open_pty_master();
    if (!stdio.master) throw system_error("vmm-agent: posix_openpt", errno);
    if (::grantpt(stdio.master.get()) != 0 || ::unlockpt(stdio.master.get()) != 0) {
      throw system_error("vmm-agent: unlockpt", errno);
    }
    std::array<char, 128> name{};
    if (::ptsname_r(stdio.master.get(), name.data(), name.size()) != 0) {
      throw system_error("vmm-agent: ptsname", errno);
    }
    stdio.child_terminal.reset(::open(name.data(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!stdio.child_terminal)
      throw system_error(std::string("vmm-agent: open ") + name.data(), errno);
    winsize size{};
    size.ws_row = request.rows;
    size.ws_col = request.cols;
    ::ioctl(stdio.master.get(), TIOCSWINSZ, &size);
    set_nonblocking(stdio.master.get());
  } else {
    stdio.in = make_pipe();
    stdio.out = make_pipe();
    stdio.err = make_pipe();
    set_nonblocking(stdio.in[1].get());
    set_nonblocking(stdio.out[0].get());
    set_nonblocking(stdio.err[0].get());
  }
  return stdio;
}

[[noreturn]] void fail_child(int report_fd, ChildStage stage, int error_number) {
  const ChildFailure failure{stage, error_number};
  [[maybe_unused]] const ssize_t n = ::write(report_fd, &failure, sizeof failure);
  _exit(stage == ChildStage::kExec && error_number == ENOENT ? 127 : 126);
}

// In the forked child: the process the host asked for. Everything allocated was prepared
// before fork (the session process has a single thread, so this is for clarity, not safety).
[[noreturn]] void run_child(const ExecRequest& request, Stdio& stdio, int report_fd,
                            const std::string& directory, std::vector<char*>& argv,
                            std::vector<char*>& envp) {
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (request.pty) {
    const int terminal = stdio.child_terminal.get();
    if (::setsid() < 0 || ::ioctl(terminal, TIOCSCTTY, 0) != 0) {
      fail_child(report_fd, ChildStage::kTerminal, errno);
    }
    for (int fd = 0; fd < 3; ++fd) {
      if (::dup2(terminal, fd) < 0) fail_child(report_fd, ChildStage::kTerminal, errno);
    }
  } else {
    // Its own process group, so SIGKILL on disconnect reaches what it started.
    ::setpgid(0, 0);
    if (::dup2(stdio.in[0].get(), 0) < 0 || ::dup2(stdio.out[1].get(), 1) < 0 ||
        ::dup2(stdio.err[1].get(), 2) < 0) {
      fail_child(report_fd, ChildStage::kTerminal, errno);
    }
  }
  // No NSS lookups in a static binary: supplementary groups are cleared, not looked up.
  if (::geteuid() == 0 && ::setgroups(0, nullptr) != 0) {
    fail_child(report_fd, ChildStage::kGroups, errno);
  }
  if (request.gid != ::getegid() && ::setgid(request.gid) != 0) {
    fail_child(report_fd, ChildStage::kGid, errno);
  }
  if (request.uid != ::geteuid() && ::setuid(request.uid) != 0) {
    fail_child(report_fd, ChildStage::kUid, errno);
  }
  // A home directory that is missing is no reason to fail; a cwd the host asked for is.
  if (::chdir(directory.c_str()) != 0 && (!request.cwd.empty() || ::chdir("/") != 0)) {
    fail_child(report_fd, ChildStage::kDirectory, errno);
  }
  environ = envp.data();
  ::execvp(argv[0], argv.data());
  fail_child(report_fd, ChildStage::kExec, errno);
}

// Kills and reaps the command's process group unless it was reaped already.
class ChildGuard final {
 public:
  explicit ChildGuard(pid_t pid) noexcept : pid_(pid) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  void reaped() noexcept { pid_ = -1; }

 private:
  pid_t pid_;
};

uint32_t wait_status_to_exit(int status) {
  if (WIFEXITED(status)) return static_cast<uint32_t>(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return 128U + static_cast<uint32_t>(WTERMSIG(status));
  return 255;
}

// One output stream of the command: a pipe's read end or the pty's master.
struct Output {
  int fd = -1;
  FrameType data;
  FrameType eof;
  bool open = true;
};

class Relay final {
 public:
  Relay(int socket, FrameDecoder& decoder, const ExecRequest& request, Stdio& stdio,
        ChildGuard& child)
      : socket_(socket), decoder_(decoder), pty_(request.pty), stdio_(stdio), child_(child) {
    stdin_fd_ = pty_ ? stdio.master.get() : stdio.in[1].get();
    outputs_[0] = {pty_ ? stdio.master.get() : stdio.out[0].get(), FrameType::kStdout,
                   FrameType::kStdoutEof};
    outputs_[1] = {pty_ ? -1 : stdio.err[0].get(), FrameType::kStderr, FrameType::kStderrEof};
    if (pty_) {
      outputs_[1].open = false;
      send_frame(socket_, FrameType::kStderrEof);
    }
    // Exit is noticed through a pidfd where the kernel has one, else by polling waitpid.
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, child.pid(), 0)));
  }

  // Relays until the command exited and its output is drained; false when the host left.
  bool run() {
    for (;;) {
      while (pending_.empty() && host_open_ && decoder_.has_frame()) {
        if (!handle(*decoder_.next())) return false;
      }
      if (exited_ && !outputs_[0].open && !outputs_[1].open) break;
      if (exited_ && Clock::now() >= drain_deadline_) break;
      if (!exited_ && !pidfd_) check_exit();
      poll_once();
      if (!host_open_) return false;
    }
    for (auto& output : outputs_) {
      if (output.open) send_frame(socket_, output.eof);
    }
    send_frame(socket_, FrameType::kExit, encode_u32(status_));
    return true;
  }

 private:
  void poll_once() {
    std::array<pollfd, 5> fds{};
    size_t count = 0;
    const auto add = [&](int fd, short events) {
      fds[count++] = {fd, events, 0};
      return count - 1;
    };
    const size_t none = fds.size();
    const size_t host = add(socket_, pending_.empty() ? POLLIN : 0);
    const size_t input = stdin_open_ && !pending_.empty() ? add(stdin_fd_, POLLOUT) : none;
    std::array<size_t, 2> output_index{none, none};
    for (size_t i = 0; i < outputs_.size(); ++i) {
      if (outputs_[i].open) output_index[i] = add(outputs_[i].fd, POLLIN);
    }
    const size_t exit_index = !exited_ && pidfd_ ? add(pidfd_.get(), POLLIN) : none;

    int timeout = -1;
    if (exited_) {
      timeout = poll_timeout(drain_deadline_);
    } else if (!pidfd_) {
      timeout = 100;
    }
    const int ready = ::poll(fds.data(), count, timeout);
    if (ready < 0) {
      if (errno == EINTR) return;
      throw system_error("vmm-agent: poll", errno);
    }
    if (fds[host].revents != 0) read_host();
    if (input != none && fds[input].revents != 0) write_stdin();
    for (size_t i = 0; i < outputs_.size(); ++i) {
      if (output_index[i] != none && fds[output_index[i]].revents != 0) read_output(outputs_[i]);
    }
    if (exit_index != none && fds[exit_index].revents != 0) check_exit();
  }

  void read_host() {
    std::array<uint8_t, kDataChunk> buffer{};
    const ssize_t n = ::read(socket_, buffer.data(), buffer.size());
    if (n > 0) {
      decoder_.feed(std::span(buffer.data(), static_cast<size_t>(n)));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      host_open_ = false;  // the host went away: ChildGuard kills the process group
    }
  }

  bool handle(const Frame& frame) {
    switch (frame.type) {
      case FrameType::kStdin:
        if (stdin_open_) pending_ = frame.payload;
        return true;
      case FrameType::kStdinEof:
        if (pty_) {
          // A terminal has no end of input; its EOF character ends a read at a line start.
          termios modes{};
          const bool have_modes = ::tcgetattr(stdio_.master.get(), &modes) == 0;
          pending_ = {have_modes ? modes.c_cc[VEOF] : uint8_t{4}};
        } else {
          stdio_.in[1].reset();
          stdin_open_ = false;
        }
        return true;
      case FrameType::kResize:
        if (pty_) {
          const auto size = parse_window_size(frame);
          winsize ws{};
          ws.ws_row = size.rows;
          ws.ws_col = size.cols;
          ::ioctl(stdio_.master.get(), TIOCSWINSZ, &ws);
        }
        return true;
      case FrameType::kSignal: {
        const uint32_t signo = parse_u32(frame);
        if (signo == 0 || signo >= static_cast<uint32_t>(NSIG)) {
          throw ProtocolError("SIGNAL number " + std::to_string(signo) + " is not a signal");
        }
        if (!exited_) ::kill(pty_ ? -child_.pid() : child_.pid(), static_cast<int>(signo));
        return true;
      }
      default:
        throw ProtocolError("unexpected " + frame_type_name(frame.type) + " during EXEC");
    }
  }

  void write_stdin() {
    const ssize_t n =
        ::write(stdin_fd_, pending_.data() + pending_offset_, pending_.size() - pending_offset_);
    if (n > 0) {
      pending_offset_ += static_cast<size_t>(n);
      if (pending_offset_ == pending_.size()) {
        pending_.clear();
        pending_offset_ = 0;
      }
    } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
      // The command closed its input (EPIPE) or its terminal went away: later input is dropped.
      pending_.clear();
      pending_offset_ = 0;
      stdin_open_ = false;
    }
  }

  void read_output(Output& output) {
    std::array<uint8_t, kDataChunk> buffer{};
    const ssize_t n = ::read(output.fd, buffer.data(), buffer.size());
    if (n > 0) {
      send_frame(socket_, output.data, std::span(buffer.data(), static_cast<size_t>(n)));
      if (exited_) {
        drain_deadline_ = std::min(Clock::now() + kDrainGrace, drain_cap_);
      }
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      // EOF, or EIO from a pty's master once no process holds the terminal.
      output.open = false;
      send_frame(socket_, output.eof);
    }
  }

  void check_exit() {
    int status = 0;
    const pid_t pid = ::waitpid(child_.pid(), &status, pidfd_ ? 0 : WNOHANG);
    if (pid != child_.pid()) return;
    child_.reaped();
    exited_ = true;
    status_ = wait_status_to_exit(status);
    const auto now = Clock::now();
    drain_cap_ = now + kDrainCap;
    drain_deadline_ = now + kDrainGrace;
    // The pty's master reads EIO only once every holder of the terminal is gone; a pipe's
    // EOF likewise. The grace bounds how long a background process can keep them open.
  }

  int socket_;
  FrameDecoder& decoder_;
  bool pty_;
  Stdio& stdio_;
  ChildGuard& child_;
  UniqueFd pidfd_;
  int stdin_fd_ = -1;
  bool stdin_open_ = true;
  std::vector<uint8_t> pending_;
  size_t pending_offset_ = 0;
  std::array<Output, 2> outputs_{};
  bool host_open_ = true;
  bool exited_ = false;
  uint32_t status_ = 0;
  Clock::time_point drain_deadline_{};
  Clock::time_point drain_cap_{};
};

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& text : strings) out.push_back(text.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::vector<std::string> exec_environment(const ExecRequest& request) {
  std::vector<std::string> environment{kDefaultPath};
  if (request.uid == 0) environment.emplace_back("HOME=/root");
  if (request.pty) environment.emplace_back("TERM=xterm");
  for (const auto& entry : request.environment) {
    const auto key = entry.substr(0, entry.find('=') + 1);
    std::erase_if(environment, [&](const std::string& e) { return e.starts_with(key); });
    environment.push_back(entry);
  }
  return environment;
}

std::string exec_directory(const ExecRequest& request,
                           const std::vector<std::string>& environment) {
  if (!request.cwd.empty()) return request.cwd;
  for (const auto& entry : environment) {
    if (entry.starts_with("HOME=") && entry.size() > 5) return entry.substr(5);
  }
  return "/";
}

void serve_exec(int socket, FrameDecoder& decoder, const ExecRequest& request) {
  auto environment = exec_environment(request);
  const auto directory = exec_directory(request, environment);
  auto args = request.argv;
  auto argv = pointers(args);
  auto envp = pointers(environment);
  Stdio stdio = make_stdio(request);
  auto report = make_pipe();

  const pid_t pid = ::fork();
  if (pid < 0) throw system_error("vmm-agent: fork", errno);
  if (pid == 0) {
    report[0].reset();
    run_child(request, stdio, report[1].get(), directory, argv, envp);
  }
  ChildGuard child(pid);
  // Only the child keeps its ends: EOF and EIO then mean that it (and its heirs) closed them.
  report[1].reset();
  stdio.child_terminal.reset();
  stdio.in[0].reset();
  stdio.out[1].reset();
  stdio.err[1].reset();

  ChildFailure failure;
  ssize_t n = 0;
  do {
    n = ::read(report[0].get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    if (failure.stage != ChildStage::kExec) {
      // Setting up failed before the command was looked for: the request could not be met.
      std::string what = std::string("vmm-agent: ") + stage_name(failure.stage);
      if (failure.stage == ChildStage::kDirectory) what += " " + directory;
      send_frame(
          socket, FrameType::kError,
          encode_error({what + ": " + std::strerror(failure.error_number), failure.error_number}));
      return;
    }
    // Like a shell: 127 for a command not found, 126 for one that cannot run, and a line on
    // the command's standard error (the terminal with a pty).
    const std::string line =
        "vmm-agent: " + request.argv[0] + ": " +
        (failure.error_number == ENOENT ? std::string("not found")
                                        : std::strerror(failure.error_number)) +
        (request.pty ? "\r\n" : "\n");
    send_frame(socket, request.pty ? FrameType::kStdout : FrameType::kStderr, line);
  }
  Relay relay(socket, decoder, request, stdio, child);
  relay.run();
}

}  // namespace vmm::agent
