#pragma once
// One job attempt as a child process: stdin from /dev/null, stdout and stderr appended to the
// job's log, in a process group of its own so that a timeout stops everything it started. The
// destructor kills and reaps a child still running, so none outlives the farm.
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vmm::farm {

class ChildProcess {
 public:
  // Throws vmm::Error when the process cannot be created (a missing executable is reported by
  // the child itself: exit status 127 and a line in the log).
  ChildProcess(const std::vector<std::string>& argv, int log_fd, const std::filesystem::path& cwd);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // The exit status once the child has ended (128 + S when signal S killed it), without waiting.
  [[nodiscard]] std::optional<int> poll();
  // Sends `sig` to the child's whole process group.
  void signal_group(int sig) const noexcept;
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace vmm::farm
