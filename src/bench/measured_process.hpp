#pragma once
// A benchmarked process: spawned in its own process group with stdout and stderr on a pipe, it
// records when the workload's ready marker appears and when the process exits, with the CPU
// time and peak memory the kernel accounts to it and the children it reaped.
#include <sys/resource.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/common/unique_fd.hpp"

namespace vmm::bench {

using Clock = std::chrono::steady_clock;

class MeasuredProcess {
 public:
  // Starts argv[0] (looked up in PATH). With `hold_stdin`, stdin is a pipe that release()
  // writes a line to; otherwise /dev/null. Throws vmm::HostResourceError when it cannot start.
  static MeasuredProcess spawn(const std::vector<std::string>& argv, std::string ready_marker,
                               bool hold_stdin);

  MeasuredProcess(MeasuredProcess&&) noexcept;
  MeasuredProcess& operator=(MeasuredProcess&&) = delete;
  MeasuredProcess(const MeasuredProcess&) = delete;
  MeasuredProcess& operator=(const MeasuredProcess&) = delete;
  // Kills the process group and reaps it when it still runs.
  ~MeasuredProcess();

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] Clock::time_point started() const { return started_; }
  [[nodiscard]] const std::optional<Clock::time_point>& ready_at() const { return ready_at_; }
  [[nodiscard]] const std::optional<Clock::time_point>& exited_at() const { return exited_at_; }
  [[nodiscard]] bool exited() const { return exited_at_.has_value(); }
  [[nodiscard]] int wait_status() const { return wait_status_; }
  [[nodiscard]] const struct rusage& usage() const { return usage_; }
  // The last bytes of its output, for a failure message.
  [[nodiscard]] std::string output_tail() const;
  // From now on, every whole line of its output that contains one of `needles` is kept (without
  // its line end), however much it writes after it: benchmarks read their figures from these.
  void keep_lines_containing(std::vector<std::string> needles) { needles_ = std::move(needles); }
  [[nodiscard]] const std::vector<std::string>& kept_lines() const { return kept_lines_; }

  // Writes one line to the held stdin and closes it.
  void release();
  void kill_group();

  // Fds to poll for readability: the output pipe (while open) and the pidfd (until reaped).
  void poll_fds(std::vector<int>& fds) const;
  // Reads what is there and reaps the process if it has exited; `now` stamps what it saw.
  void service(Clock::time_point now);

 private:
  MeasuredProcess() = default;
  void read_output(Clock::time_point now);
  void reap(Clock::time_point now);
  void keep_lines(std::string_view chunk);

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd output_;
  UniqueFd stdin_;
  std::string marker_;
  std::string seen_;  // output kept to find the marker across reads, and for errors
  std::vector<std::string> needles_;
  std::string partial_line_;
  std::vector<std::string> kept_lines_;
  Clock::time_point started_{};
  std::optional<Clock::time_point> ready_at_;
  std::optional<Clock::time_point> exited_at_;
  int wait_status_ = 0;
  struct rusage usage_ {};
};

// One poll round over the processes, waiting at most `wait`.
void service_once(const std::vector<MeasuredProcess*>& processes, std::chrono::milliseconds wait);

// Services the processes until `done()` holds or the deadline passes; false on the deadline.
template <typename Done>
bool service_until(const std::vector<MeasuredProcess*>& processes, Clock::time_point deadline,
                   Done done) {
  while (!done()) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    service_once(processes,
                 std::min(left + std::chrono::milliseconds(1), std::chrono::milliseconds(1000)));
  }
  return true;
}

[[nodiscard]] inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
// User plus system time, in milliseconds.
[[nodiscard]] double cpu_ms(const struct rusage& usage);

// The last line of `text` (a process's output tail), at most 200 characters: what a failure
// message quotes.
[[nodiscard]] std::string last_line(std::string text);

// "exit status 3", "killed by signal 9".
[[nodiscard]] std::string describe_wait_status(int status);

}  // namespace vmm::bench
