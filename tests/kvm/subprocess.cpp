#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace vmm::test {
namespace {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  return Pipe{UniqueFd{fds[0]}, UniqueFd{fds[1]}};
}

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1000));
}

// Child side of spawn(): only async-signal-safe calls between fork and exec.
[[noreturn]] void exec_child(const std::vector<char*>& argv, int in, int out, int err, int report) {
  // Die with the test process, even if it is killed before its destructors run.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::dup2(in, STDIN_FILENO) < 0 || ::dup2(out, STDOUT_FILENO) < 0 ||
      ::dup2(err, STDERR_FILENO) < 0) {
    const int e = errno;
    (void)!::write(report, &e, sizeof e);
    ::_exit(127);
  }
  ::execvp(argv[0], argv.data());
  const int e = errno;
  (void)!::write(report, &e, sizeof e);
  ::_exit(127);
}

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return "exit status " + std::to_string(code);
  return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

Subprocess Subprocess::spawn(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("Subprocess::spawn: empty argv");
  std::vector<std::string> args = argv;  // execvp wants non-const char*
  std::vector<char*> raw;
  raw.reserve(args.size() + 1);
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);

  Pipe in = make_pipe();
  Pipe out = make_pipe();
  Pipe err = make_pipe();
  Pipe report = make_pipe();  // CLOEXEC: closes on a successful exec, carries errno otherwise

  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    exec_child(raw, in.read.get(), out.write.get(), err.write.get(), report.write.get());
  }
  report.write.reset();
  Subprocess child{pid, std::move(in.write), std::move(out.read), std::move(err.read)};

  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report.read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    child.reap(true);
    throw std::system_error(child_errno, std::generic_category(), "exec " + argv[0]);
  }
  // Writes to a child that has gone must fail with EPIPE, not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  for (const UniqueFd* fd : {&child.stdout_, &child.stderr_, &child.stdin_}) {
    ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
  }
  return child;
}

Subprocess::Subprocess(pid_t pid, UniqueFd in, UniqueFd out, UniqueFd err) noexcept
    : pid_(pid), stdin_(std::move(in)), stdout_(std::move(out)), stderr_(std::move(err)) {}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdin_(std::move(other.stdin_)),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)),
      stdout_text_(std::move(other.stdout_text_)),
      stderr_text_(std::move(other.stderr_text_)),
      status_(std::move(other.status_)) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    kill();
    pid_ = std::exchange(other.pid_, -1);
    stdin_ = std::move(other.stdin_);
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
    stdout_text_ = std::move(other.stdout_text_);
    stderr_text_ = std::move(other.stderr_text_);
    status_ = std::move(other.status_);
  }
  return *this;
}

Subprocess::~Subprocess() { kill(); }

void Subprocess::kill() noexcept {
  if (pid_ <= 0 || status_) return;
  ::kill(pid_, SIGKILL);
  // A process stuck in uninterruptible sleep (a hung file system under it) does not die on
  // SIGKILL; waiting for it without a bound would turn one failed test into a hung suite.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!reap(false) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!status_) {
    std::string wchan;
    std::ifstream(std::string("/proc/") + std::to_string(pid_) + "/wchan") >> wchan;
    std::fprintf(stderr, "process %d still alive 60 s after SIGKILL (waiting in %s); left behind\n",
                 static_cast<int>(pid_), wchan.empty() ? "?" : wchan.c_str());
  }
}

bool Subprocess::reap(bool block) {
  if (pid_ <= 0 || status_) return status_.has_value();
  int raw = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &raw, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  ExitStatus s;
  s.exited = WIFEXITED(raw);
  s.code = s.exited ? WEXITSTATUS(raw) : -1;
  s.signal = WIFSIGNALED(raw) ? WTERMSIG(raw) : 0;
  status_ = s;
  return true;
}

bool Subprocess::pump(Clock::time_point deadline) {
  pollfd fds[2] = {{stdout_.get(), POLLIN, 0}, {stderr_.get(), POLLIN, 0}};
  if (!stdout_ && !stderr_) return false;
  const int ready = ::poll(fds, 2, remaining_ms(deadline));
  if (ready <= 0) return true;  // timeout slice or EINTR: the caller checks its deadline
  std::pair<UniqueFd*, std::string*> streams[2] = {{&stdout_, &stdout_text_},
                                                   {&stderr_, &stderr_text_}};
  for (std::size_t i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || fds[i].revents == 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
    if (n > 0) {
      streams[i].second->append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      streams[i].first->reset();  // end of file: poll ignores negative fds from now on
    }
  }
  return true;
}

bool Subprocess::write_stdin(std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    if (!stdin_ || Clock::now() >= deadline) return false;
    const ssize_t n = ::write(stdin_.get(), data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    pollfd fd{stdin_.get(), POLLOUT, 0};
    ::poll(&fd, 1, remaining_ms(deadline));
    pump(Clock::now());  // keep the child's output flowing so it cannot block on a full pipe
  }
  return true;
}

std::optional<std::size_t> Subprocess::wait_for_stdout(std::string_view needle,
                                                       Clock::time_point deadline,
                                                       std::size_t from) {
  for (;;) {
    if (from <= stdout_text_.size()) {
      const auto at = stdout_text_.find(needle, from);
      if (at != std::string::npos) return at + needle.size();
    }
    if (Clock::now() >= deadline || !pump(deadline) || !stdout_) {
      // One last look: the final read may have completed the match.
      const auto at = stdout_text_.find(needle, std::min(from, stdout_text_.size()));
      if (at != std::string::npos) return at + needle.size();
      return std::nullopt;
    }
  }
}

std::optional<ExitStatus> Subprocess::wait(Clock::time_point deadline) {
  for (;;) {
    const bool open = pump(deadline);
    if (!open) {
      // Both streams closed: the child has exited or is about to; wait for it within the limit.
      if (reap(false)) return status_;
      if (Clock::now() >= deadline) return std::nullopt;
      ::usleep(10000);
      continue;
    }
    if (reap(false)) {
      // Drain what is already in the pipes; a grandchild holding them open must not hang us.
      while (pump(Clock::now()) && (stdout_ || stderr_)) {
        pollfd fds[2] = {{stdout_.get(), POLLIN, 0}, {stderr_.get(), POLLIN, 0}};
        if (::poll(fds, 2, 0) <= 0) break;
      }
      return status_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
  }
}

}  // namespace vmm::test
