#pragma once
// The process's termination signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT), blocked in every thread
// and read on one. Create it in main() before any thread starts: threads inherit the blocked
// mask, so no signal can reach a vCPU, device or event-loop thread and end the process by its
// default action (no terminal restore, no device shutdown, no console flush). The signals stay
// blocked for the rest of the process, so a second one cannot kill it while it shuts down.
#include <optional>

#include "vmm/common/unique_fd.hpp"

namespace vmm::cli {

class TerminationSignals final {
 public:
  TerminationSignals();  // blocks the signals in the calling thread and opens a signalfd

  // Readable when a signal is pending; for poll().
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  // The pending signal's number, if one is pending (non-blocking).
  [[nodiscard]] std::optional<int> take();

 private:
  UniqueFd fd_;
};

}  // namespace vmm::cli
