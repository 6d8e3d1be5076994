#pragma once
// Why KVM_RUN returned, decoded from struct kvm_run into a small value type.
#include <cstdint>
#include <span>

namespace vmm::kvm {

struct VcpuExit {
  enum class Kind {
    kIoIn,      // port read: fill `data` (repeated `count` times for string I/O)
    kIoOut,     // port write
    kMmioRead,  // fill `data`
    kMmioWrite,
    kHlt,             // only without an in-kernel LAPIC
    kShutdown,        // triple fault: the guest reset itself
    kSystemReset,     // KVM_SYSTEM_EVENT_RESET
    kSystemShutdown,  // KVM_SYSTEM_EVENT_SHUTDOWN / crash
    kInterrupted,     // a signal or immediate_exit: check whether to stop
    kFailEntry,       // hardware refused the guest state
    kInternalError,
    kUnknown,
  };
  Kind kind = Kind::kUnknown;
  uint64_t address = 0;     // port or guest-physical address
  uint32_t count = 1;       // string I/O repetitions; data holds count items
  std::span<uint8_t> data;  // points into the vCPU's kvm_run page
  uint32_t raw_reason = 0;  // kvm_run::exit_reason, for diagnostics
  uint64_t detail = 0;      // hardware entry failure reason / internal error suberror
};

}  // namespace vmm::kvm
