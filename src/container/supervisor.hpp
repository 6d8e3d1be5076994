#pragma once
// The foreground side of `run`: forwards signals to the container's init, relays the pty
// when there is one, and turns init's end into an exit status.
#include "container/launcher.hpp"

namespace vmm::container {

// Call before launch(): blocks the signals supervise() will forward, so none is lost
// between the clone and the wait. The returned mask restores the previous one.
class ForwardedSignals final {
 public:
  ForwardedSignals();
  ~ForwardedSignals();
  ForwardedSignals(const ForwardedSignals&) = delete;
  ForwardedSignals& operator=(const ForwardedSignals&) = delete;
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
  sigset_t old_{};
};

// Waits until init exits. Returns its exit code, or 128 + signal. Reports an OOM kill.
// `system_init`: SIGTERM and SIGINT become init's halt signal, and a second one SIGKILL; the
// init's own halt, power-off or reboot returns 0.
[[nodiscard]] int supervise(LaunchedContainer& c, const ForwardedSignals& signals,
                            bool system_init = false);

}  // namespace vmm::container
