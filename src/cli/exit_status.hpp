#pragma once
// The documented process exit statuses of `vmm run` (README.md, `vmm --help`): the one place
// that turns what ended a VM, and why its owner asked, into a number.
#include <cstdint>

#include "vmm/common/error.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm::cli {

// Why the CLI itself asked the VM to stop, if it did.
struct OwnerStop {
  int signal = 0;          // a termination signal arrived: 128 + signal
  bool timed_out = false;  // --timeout expired: 124
};

// QEMU's isa-debug-exit status for a value the guest wrote: (v << 1) | 1, reduced mod 256 as
// a shell sees it. Always odd, so a guest cannot fake a clean exit 0 through the port.
[[nodiscard]] constexpr int debug_exit_status(uint64_t value) noexcept {
  return static_cast<int>(((value << 1) | 1) & 0xff);
}

[[nodiscard]] int exit_status(const VmOutcome& outcome, const OwnerStop& owner) noexcept;

// `vmm run --exec`: the command's own status (0 to 255) as the guest init reported it on the
// debug-exit port; kExecNoStatus when the guest ended any other way (its init failed, it
// panicked, powered off or reset before reporting). A timeout and signals are as above.
inline constexpr int kExecNoStatus = 125;
[[nodiscard]] int exec_exit_status(const VmOutcome& outcome, const OwnerStop& owner) noexcept;

// Why an --exec guest ended without a status, for the line vmm prints; empty when it reported
// one or the owner stopped it.
[[nodiscard]] const char* exec_failure_reason(const VmOutcome& outcome,
                                              const OwnerStop& owner) noexcept;

// Invalid configuration and a missing host resource are the user's to fix (2); runtime
// failures are 1.
[[nodiscard]] int exit_status(ErrorKind kind) noexcept;

}  // namespace vmm::cli
