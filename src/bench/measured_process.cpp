#include "bench/measured_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

#include "vmm/common/error.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): posix_spawn's environment

namespace vmm::bench {
namespace {

constexpr std::size_t kKeptOutput = 4096;

// posix_spawn's attribute and file-action objects, destroyed on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawnattr_init(&attr_);
    ::posix_spawn_file_actions_init(&actions_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attr_);
  }
  posix_spawnattr_t* attr() { return &attr_; }
  posix_spawn_file_actions_t* actions() { return &actions_; }

 private:
  posix_spawnattr_t attr_{};
  posix_spawn_file_actions_t actions_{};
};

std::array<UniqueFd, 2> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw HostResourceError(std::string("pipe: ") + std::strerror(errno));
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

MeasuredProcess MeasuredProcess::spawn(const std::vector<std::string>& argv,
                                       std::string ready_marker, bool hold_stdin) {
  if (argv.empty()) throw HostResourceError("bench: empty command");
  MeasuredProcess p;
  p.marker_ = std::move(ready_marker);
  auto [out_read, out_write] = make_pipe();
  std::array<UniqueFd, 2> in_pipe;
  if (hold_stdin) in_pipe = make_pipe();

  SpawnSetup setup;
  // Its own process group, so that a run that overstays is killed with everything it started;
  // default signal handling and an empty mask whatever this process blocks or ignores.
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(setup.attr(), &none);
  ::posix_spawnattr_setsigdefault(setup.attr(), &all);
  ::posix_spawnattr_setpgroup(setup.attr(), 0);
  ::posix_spawnattr_setflags(
      setup.attr(),
      static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
  if (hold_stdin) {
    ::posix_spawn_file_actions_adddup2(setup.actions(), in_pipe[0].get(), STDIN_FILENO);
  } else {
    ::posix_spawn_file_actions_addopen(setup.actions(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  ::posix_spawn_file_actions_adddup2(setup.actions(), out_write.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(setup.actions(), out_write.get(), STDERR_FILENO);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  p.started_ = Clock::now();
  const int rc =
      ::posix_spawnp(&p.pid_, args[0], setup.actions(), setup.attr(), args.data(), environ);
  if (rc != 0) {
    p.pid_ = -1;
    throw HostResourceError("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  p.pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, p.pid_, 0)));
  if (!p.pidfd_) {
    const int err = errno;
    p.kill_group();
    throw HostResourceError(std::string("pidfd_open: ") + std::strerror(err));
  }
  p.output_ = std::move(out_read);
  ::fcntl(p.output_.get(), F_SETFL, O_NONBLOCK);
  if (hold_stdin) p.stdin_ = std::move(in_pipe[1]);
  return p;
}

MeasuredProcess::MeasuredProcess(MeasuredProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      output_(std::move(other.output_)),
      stdin_(std::move(other.stdin_)),
      marker_(std::move(other.marker_)),
      seen_(std::move(other.seen_)),
      needles_(std::move(other.needles_)),
      partial_line_(std::move(other.partial_line_)),
      kept_lines_(std::move(other.kept_lines_)),
      started_(other.started_),
      ready_at_(other.ready_at_),
      exited_at_(other.exited_at_),
      wait_status_(other.wait_status_),
      usage_(other.usage_) {}

MeasuredProcess::~MeasuredProcess() {
  if (pid_ > 0 && !exited_at_) {
    kill_group();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void MeasuredProcess::kill_group() {
  if (pid_ <= 0 || exited_at_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
}

void MeasuredProcess::release() {
  if (!stdin_) return;
  static constexpr char kLine[] = "go\n";
  [[maybe_unused]] const auto n = ::write(stdin_.get(), kLine, sizeof kLine - 1);
  stdin_.reset();
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (auto nl = text.rfind('\n'); nl != std::string::npos) text.erase(0, nl + 1);
  return text.size() > 200 ? text.substr(0, 200) : text;
}

std::string MeasuredProcess::output_tail() const {
  if (seen_.size() <= 400) return seen_;
  return seen_.substr(seen_.size() - 400);
}

void MeasuredProcess::poll_fds(std::vector<int>& fds) const {
  if (output_) fds.push_back(output_.get());
  if (!exited_at_ && pidfd_) fds.push_back(pidfd_.get());
}

void MeasuredProcess::read_output(Clock::time_point now) {
  std::array<char, 4096> buf{};
  while (output_) {
    const ssize_t n = ::read(output_.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // EAGAIN: nothing more now
    if (n == 0) {
      output_.reset();  // every writer has gone
      return;
    }
    seen_.append(buf.data(), static_cast<std::size_t>(n));
    if (!needles_.empty()) keep_lines({buf.data(), static_cast<std::size_t>(n)});
    if (!ready_at_ && seen_.find(marker_) != std::string::npos) ready_at_ = now;
    if (seen_.size() > 2 * kKeptOutput) seen_.erase(0, seen_.size() - kKeptOutput);
  }
}

void MeasuredProcess::keep_lines(std::string_view chunk) {
  // A console line is short; one longer than this is not a figure, so its start is dropped.
  constexpr std::size_t kLongestLine = std::size_t{64} * 1024;
  for (;;) {
    const auto nl = chunk.find('\n');
    partial_line_.append(chunk.substr(0, nl));
    if (partial_line_.size() > kLongestLine) partial_line_.erase(0, partial_line_.size() - 256);
    if (nl == std::string_view::npos) return;
    chunk.remove_prefix(nl + 1);
    while (!partial_line_.empty() && partial_line_.back() == '\r') partial_line_.pop_back();
    for (const auto& needle : needles_) {
      if (partial_line_.find(needle) != std::string::npos) {
        kept_lines_.push_back(partial_line_);
        break;
      }
    }
    partial_line_.clear();
  }
}

void MeasuredProcess::reap(Clock::time_point now) {
  if (exited_at_) return;
  int status = 0;
  struct rusage usage {};
  const pid_t r = ::wait4(pid_, &status, WNOHANG, &usage);
  if (r != pid_) return;
  exited_at_ = now;
  wait_status_ = status;
  usage_ = usage;
  pidfd_.reset();
  // What it wrote before it exited is in the pipe: take it now (a child it left behind may
  // still hold the pipe open, so do not wait for the end).
  read_output(now);
  if (!ready_at_ && seen_.find(marker_) != std::string::npos) ready_at_ = now;
}

void MeasuredProcess::service(Clock::time_point now) {
  read_output(now);
  reap(now);
}

void service_once(const std::vector<MeasuredProcess*>& processes, std::chrono::milliseconds wait) {
  std::vector<int> fds;
  for (const auto* p : processes) p->poll_fds(fds);
  std::vector<pollfd> pfds;
  pfds.reserve(fds.size());
  for (int fd : fds) pfds.push_back(pollfd{fd, POLLIN, 0});
  if (!pfds.empty()) {
    ::poll(pfds.data(), pfds.size(), static_cast<int>(wait.count()));
  }
  const auto now = Clock::now();
  for (auto* p : processes) p->service(now);
}

double cpu_ms(const struct rusage& usage) {
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

}  // namespace vmm::bench
