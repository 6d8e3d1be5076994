#pragma once
// `vmm run` in the foreground: the VM's console on this process's stdin and stdout (raw mode on
// a terminal, restored on every exit path), termination signals and --timeout as stop requests,
// and the outcome turned into the documented exit status.
#include <optional>
#include <string>

#include "cli/termination_signals.hpp"
#include "jail/jail.hpp"
#include "vmm/config/vm_config.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace vmm::cli {

// Process-level options of `vmm run` that are not part of the VM's configuration.
struct RunOptions {
  std::optional<double> timeout_seconds;  // --timeout: stop the VM, exit status 124
  std::string api_socket;                 // --api-socket: serve the VM's REST API there
  bool restart_on_reboot = false;         // --on-reboot restart: boot the guest again
  // --seccomp: how vmm's threads are confined (vmm/confine/thread_seccomp.hpp).
  confine::SeccompMode seccomp = confine::SeccompMode::kKill;
  // --jail: vmm runs confined by its own container runtime (jail/jail.hpp).
  std::optional<jail::JailOptions> jail;
};

// Builds, runs and tears down the VM; returns the process exit status. Throws vmm::Error for a
// VM that cannot be built (nothing is left behind).
[[nodiscard]] int run_in_foreground(const VmConfig& config, const RunOptions& options,
                                    TerminationSignals& signals);

}  // namespace vmm::cli
