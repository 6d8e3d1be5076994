#include "cli/run_command.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "agent/agent_binary.hpp"
#include "api/api_server.hpp"
#include "api/vm_api.hpp"
#include "cli/exit_status.hpp"
#include "vmm/common/error.hpp"
#include "vmm/host_console.hpp"
#include "vmm/vm.hpp"

namespace vmm::cli {
namespace {

// Where API requests find the VM: empty before the VM is built and after it is gone, so the
// API thread never reaches a VM that does not exist.
class VmControlSlot {
 public:
  api::ApiResponse call(const api::ApiRequest& request) {
    std::lock_guard lock(mutex_);
    if (control_ == nullptr) return api::error_response(503, "the VM is not running");
    return api::dispatch(*control_, request);
  }

  // Binds a VM for its lifetime.
  class Binding {
   public:
    Binding(VmControlSlot& slot, api::VmControl& control) : slot_(slot) { slot_.set(&control); }
    Binding(const Binding&) = delete;
    Binding& operator=(const Binding&) = delete;
    ~Binding() { slot_.set(nullptr); }

   private:
    VmControlSlot& slot_;
  };

 private:
  void set(api::VmControl* control) {
    std::lock_guard lock(mutex_);
    control_ = control;
  }
  std::mutex mutex_;
  api::VmControl* control_ = nullptr;
};

// Builds one VM, runs it until it stops, and tears it down.
// When --timeout ends the run; `at` means nothing unless `set`.
struct Deadline {
  bool set = false;
  std::chrono::steady_clock::time_point at{};
};

// The console's fds: the terminal in both directions, or with --exec the command's stdout
// (hvc0) on stdout, its stderr (ttyS0) on stderr and no input (the terminal keeps its Ctrl-C).
ConsoleIo console_io(const VmConfig& config, bool tty) {
  if (config.host_exec) {
    return ConsoleIo{.output_fd = STDOUT_FILENO,
                     .input_fd = -1,
                     .serial_output_fd = STDERR_FILENO,
                     .escape_sequences = false};
  }
  return ConsoleIo{.output_fd = STDOUT_FILENO, .input_fd = STDIN_FILENO, .escape_sequences = tty};
}

VmOutcome run_once(const VmConfig& config, bool tty, Deadline deadline, VmControlSlot& slot,
                   TerminationSignals& signals, OwnerStop& owner, jail::Jail* jail) {
  using Clock = std::chrono::steady_clock;
  Vm vm(config, console_io(config, tty));
  // Everything that needs root is open now: give it up before the guest runs.
  if (jail != nullptr) jail->lock_down();
  const std::unique_ptr<api::VmControl> control = api::make_vm_control(vm);
  const VmControlSlot::Binding binding(slot, *control);  // unbinds before control and vm go
  TerminalRawMode raw_terminal(config.host_exec ? -1 : STDIN_FILENO);
  vm.start();

  std::array<pollfd, 2> fds{{{vm.stop_event_fd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}}};
  while ((fds[0].revents & POLLIN) == 0) {
    int wait_ms = -1;
    if (deadline.set) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline.at - Clock::now());
      if (left.count() <= 0) {
        spdlog::warn("--timeout expired, stopping the VM");
        owner.timed_out = true;
        vm.request_stop();
        break;
      }
      wait_ms = static_cast<int>(std::min<int64_t>(left.count() + 1, 60'000));
    }
    if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) {
      throw system_error("poll", errno);
    }
    if ((fds[1].revents & POLLIN) != 0) {
      if (const auto sig = signals.take()) {
        spdlog::warn("received signal {}, stopping the VM", ::strsignal(*sig));
        owner.signal = *sig;
        vm.request_stop();
        break;
      }
    }
  }
  VmOutcome outcome = vm.wait();
  raw_terminal.restore();
  return outcome;
}

}  // namespace

int run_in_foreground(const VmConfig& config, const RunOptions& options,
                      TerminationSignals& signals) {
  const std::optional<double>& timeout_seconds = options.timeout_seconds;
  if (timeout_seconds && !(*timeout_seconds > 0)) {
    throw ConfigError("timeout", "must be a positive number of seconds");
  }
  // Before any thread starts: each confines itself with this mode once it is set up.
  confine::set_seccomp_mode(options.seccomp);
  if (options.seccomp == confine::SeccompMode::kOff) {
    spdlog::warn(
        "--seccomp off: vmm's threads run without system call filters; a guest that "
        "takes over a device model can make any system call vmm's user can");
  } else if (options.seccomp == confine::SeccompMode::kLog) {
    spdlog::warn(
        "--seccomp log: system calls outside the filters are allowed and logged by the "
        "kernel (dmesg or the audit log)");
  }
  using Clock = std::chrono::steady_clock;
  // The timeout covers every boot of the guest together.
  Deadline deadline;
  if (timeout_seconds) {
    deadline.set = true;
    deadline.at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(*timeout_seconds));
  }
  // The jail comes before anything vmm starts: its threads are all made inside it. The caller
  // stays outside, passing signals on and the exit status back; a guest that reboots under
  // --on-reboot restart boots again in a new jail (the old one gave up root).
  std::optional<jail::Jail> jail;
  if (options.jail) {
    jail::check_jailable(config);
    // Found beside vmm's own executable, which a new mount namespace may name differently (in a
    // chroot, /proc/self/exe then reads as the path from the outer root): look it up first.
    if (config.agent && std::getenv("VMM_AGENT_BINARY") == nullptr) {
      ::setenv("VMM_AGENT_BINARY", agent::find_agent_binary().c_str(), 1);
    }
    for (unsigned boot = 1;; ++boot) {
      jail.emplace(jail::Jail::enter(config, *options.jail));
      if (jail->in_jail()) break;
      const int status = jail->supervise(signals.fd(), [&signals] { return signals.take(); });
      if (!options.restart_on_reboot || !jail->guest_rebooted()) return status;
      jail.reset();
      spdlog::info("the guest rebooted; booting it again in a new jail (boot {})", boot + 1);
    }
  }
  // The API socket comes first: a bad path is refused before any VM exists, and it binds
  // before any thread does. Until the VM is there (and once it is gone) requests get 503.
  VmControlSlot slot;
  std::optional<api::ApiServer> api_server;
  if (!options.api_socket.empty()) {
    api_server.emplace(options.api_socket,
                       [&slot](const api::ApiRequest& request) { return slot.call(request); });
  }
  // Escape sequences only on a terminal: through pipes every byte reaches the guest.
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  for (unsigned boot = 1;; ++boot) {
    OwnerStop owner;
    const VmOutcome outcome =
        run_once(config, tty, deadline, slot, signals, owner, jail ? &*jail : nullptr);
    if (outcome.reason == StopReason::kGuestReset && options.restart_on_reboot) {
      if (jail) {  // the supervisor boots it again, in a new jail
        jail->report_guest_reboot();
        return exit_status(outcome, owner);
      }
      spdlog::info("the guest rebooted; booting it again (boot {})", boot + 1);
      continue;
    }
    if (config.host_exec) {
      const char* reason = exec_failure_reason(outcome, owner);
      if (*reason != '\0') std::fprintf(stderr, "vmm: --exec: %s\n", reason);
      return exec_exit_status(outcome, owner);
    }
    return exit_status(outcome, owner);
  }
}

}  // namespace vmm::cli
