#pragma once
// Seccomp per thread kind: each of the VMM's threads, once set up and before the guest can
// drive it, confines itself to the system calls its kind needs. A guest that takes over a
// device model then holds a thread that cannot exec, fork, open files, make sockets, ptrace,
// mount or load modules, whatever the code it runs.
//
// The filters are thread-local (no TSYNC): a thread's filter covers it and anything it would
// start, never the threads beside it. A call outside the list raises SIGSYS, whose handler
// writes one line naming the thread and the call and ends vmm with status kSeccompExitStatus.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace vmm::confine {

enum class ThreadKind : uint8_t {
  kVcpu,        // KVM_RUN and the exits it handles: port and MMIO devices, virtio transports
  kDeviceLoop,  // the event loop: virtqueues, TAPs, libslirp, vsock, timers
  kBlockIo,     // a disk's thread pool (its blocking I/O)
  kApi,         // the REST API socket (pause, resume, snapshot, stop)
  kConsole,     // the host terminal's input
  kFileServer,  // virtio-9p: a file server under the shared directory
};
inline constexpr ThreadKind kAllThreadKinds[] = {ThreadKind::kVcpu,    ThreadKind::kDeviceLoop,
                                                 ThreadKind::kBlockIo, ThreadKind::kApi,
                                                 ThreadKind::kConsole, ThreadKind::kFileServer};

enum class SeccompMode : uint8_t {
  kKill,  // a forbidden call ends vmm, with a log line
  kLog,   // a forbidden call is allowed and the kernel logs it (audit, dmesg)
  kOff,   // no filters: for debugging, said loudly at start
};

// vmm exits with this when a thread made a forbidden call (128 + SIGSYS, as a shell reports a
// process killed by that signal).
inline constexpr int kSeccompExitStatus = 159;

[[nodiscard]] std::string_view to_string(ThreadKind kind) noexcept;
[[nodiscard]] std::string_view to_string(SeccompMode mode) noexcept;
[[nodiscard]] std::optional<SeccompMode> parse_seccomp_mode(std::string_view text) noexcept;

// Process-wide: the mode that threads confining themselves from now on use. kOff until set,
// so code that never sets it (unit tests, the daemon) runs unconfined. Set once by the VM,
// before it starts its threads; also installs the SIGSYS handler for kKill.
void set_seccomp_mode(SeccompMode mode);
[[nodiscard]] SeccompMode seccomp_mode() noexcept;

// Loads `kind`'s filter into the calling thread under the current mode (nothing for kOff).
// A thread that cannot be confined must not go on: when the kernel refuses the filter, this
// logs why and ends vmm with status 1.
void confine_this_thread(ThreadKind kind) noexcept;

// A jailed vmm drops to an unprivileged uid and gid once its VM is built, and glibc makes every
// thread change its ids, those already confined too. Filters loaded after this call allow that
// one change (to exactly these ids, with an empty group list) besides their kind's list.
void allow_dropping_to(uint32_t uid, uint32_t gid) noexcept;
// The drop is done: filters loaded from now on (the device loop's, the vCPUs') allow no id
// change at all.
void dropping_done() noexcept;

// The system call names `kind` may make, for tests and documentation.
[[nodiscard]] std::span<const std::string_view> allowed_syscalls(ThreadKind kind);

}  // namespace vmm::confine
