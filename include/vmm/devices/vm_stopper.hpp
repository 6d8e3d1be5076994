#pragma once
// How a device, a vCPU or the VM's owner asks for the VM to end, and what is reported when it
// did. The first request wins; later ones are ignored. Nothing here knows about process exit
// statuses: the front end (CLI, API) decides what an outcome means to its caller.
#include <cstdint>
#include <string>

namespace vmm {

enum class StopReason {
  kGuestReset,     // reboot through the keyboard controller or PCI reset, triple fault
  kGuestPowerOff,  // ACPI or KVM system-event shutdown
  kGuestPanic,     // the guest kernel panicked (pvpanic)
  kDebugExit,      // the guest wrote a value to the isa-debug-exit compatible port
  kConsoleEscape,  // the user typed Ctrl-a x on the console
  kRequested,      // the VM's owner asked (a signal, a timer, an API call)
  kError,          // the VMM failed while running the VM
};

// What ended a VM.
struct VmOutcome {
  StopReason reason = StopReason::kError;
  uint64_t debug_exit_value = 0;  // kDebugExit: the value the guest wrote
  std::string error{};            // kError: what failed, one line
};

[[nodiscard]] const char* to_string(StopReason reason) noexcept;

class VmStopper {
 public:
  VmStopper() = default;
  VmStopper(const VmStopper&) = delete;
  VmStopper& operator=(const VmStopper&) = delete;
  virtual ~VmStopper() = default;

  virtual void request_stop(VmOutcome outcome) = 0;
};

}  // namespace vmm
