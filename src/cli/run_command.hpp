#pragma once
// `vmm run` in the foreground: the VM's console on this process's stdin and stdout (raw mode on
// a terminal, restored on every exit path), termination signals and --timeout as stop requests,
// and the outcome turned into the documented exit status.
#include <optional>

#include "cli/termination_signals.hpp"
#include "vmm/config/vm_config.hpp"

namespace vmm::cli {

// Builds, runs and tears down the VM; returns the process exit status. Throws vmm::Error for a
// VM that cannot be built (nothing is left behind).
[[nodiscard]] int run_in_foreground(const VmConfig& config, std::optional<double> timeout_seconds,
                                    TerminationSignals& signals);

}  // namespace vmm::cli
