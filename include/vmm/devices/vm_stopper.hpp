#pragma once
// How a device (or the console, or a timer) asks the VMM to end the VM with an exit status.
// The first request wins; later ones are ignored.
namespace vmm {

enum class StopReason {
  kGuestReset,     // reboot through the keyboard controller, triple fault: exit 0
  kGuestPowerOff,  // ACPI or KVM system-event shutdown: exit 0
  kDebugExit,      // isa-debug-exit compatible port: exit (v << 1) | 1
  kTimeout,        // --timeout: exit 124
  kUserRequest,    // console escape sequence or a signal
  kError,          // the VMM failed: exit 1
};

class VmStopper {
 public:
  VmStopper() = default;
  VmStopper(const VmStopper&) = delete;
  VmStopper& operator=(const VmStopper&) = delete;
  virtual ~VmStopper() = default;

  virtual void request_stop(StopReason reason, int exit_status) = 0;
};

}  // namespace vmm
