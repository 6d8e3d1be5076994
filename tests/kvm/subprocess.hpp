#pragma once
// A child process with its stdin, stdout and stderr on pipes, for tests that drive the vmm
// binary. The owner kills and reaps the child on destruction, so a failing test leaves nothing
// running; the child also dies with the test process (PR_SET_PDEATHSIG).
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/common/unique_fd.hpp"

namespace vmm::test {

using Clock = std::chrono::steady_clock;

// How a child ended: exit(code) or killed by a signal.
struct ExitStatus {
  bool exited{false};
  int code{-1};
  int signal{0};

  [[nodiscard]] std::string describe() const;
};

class Subprocess final {
 public:
  // Starts argv[0] (looked up in PATH when it has no slash). Throws std::system_error when the
  // pipes or fork fail, or when exec fails in the child (its errno is passed back).
  static Subprocess spawn(const std::vector<std::string>& argv);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  // Writes all of data to the child's stdin; false if the pipe is closed or the deadline passes.
  [[nodiscard]] bool write_stdin(std::string_view data, Clock::time_point deadline);
  void close_stdin() noexcept { stdin_.reset(); }

  // Collects output until stdout (from `from` on) contains needle, the child closes stdout, or
  // the deadline passes. Returns the offset just past the match.
  [[nodiscard]] std::optional<std::size_t> wait_for_stdout(std::string_view needle,
                                                           Clock::time_point deadline,
                                                           std::size_t from = 0);

  // Collects output until the child exits or the deadline passes (nullopt; child still runs).
  [[nodiscard]] std::optional<ExitStatus> wait(Clock::time_point deadline);

  // SIGKILL and reap; the collected output stays available.
  void kill() noexcept;

  [[nodiscard]] const std::string& stdout_text() const noexcept { return stdout_text_; }
  [[nodiscard]] const std::string& stderr_text() const noexcept { return stderr_text_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  Subprocess(pid_t pid, UniqueFd in, UniqueFd out, UniqueFd err) noexcept;

  // Reads whatever is available within the deadline; false when nothing more can arrive.
  bool pump(Clock::time_point deadline);
  bool reap(bool block);

  pid_t pid_{-1};
  UniqueFd stdin_;
  UniqueFd stdout_;
  UniqueFd stderr_;
  std::string stdout_text_;
  std::string stderr_text_;
  std::optional<ExitStatus> status_;
};

}  // namespace vmm::test
