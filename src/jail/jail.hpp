#pragma once
// `vmm run --jail`: vmm's container runtime confines the VMM itself. The run forks into new
// pid, mount, ipc, uts and network namespaces inside a cgroup of its own (the supervisor, left
// outside, forwards termination signals, passes on the exit status and removes the cgroup).
// The jailed vmm builds its VM while it still holds root: /dev/kvm, the disk images, the kernel
// and the TAPs (attached in the host's network namespace, where they live) are all open by
// then. Then it locks itself down: its root becomes an empty read-only tmpfs holding a proc
// of its own pid namespace, a minimal /dev and the vsock socket's directory; it becomes an
// unprivileged uid and gid with no capabilities, no_new_privs and bounded open files. Only then
// does the guest run, with each thread under its seccomp filter.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "container/cgroup.hpp"
#include "container/oci_config.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/config/vm_config.hpp"

namespace vmm::jail {

// nobody and nogroup on Debian: the ids a jailed vmm takes unless --jail-user says otherwise.
inline constexpr uint32_t kDefaultJailId = 65534;

struct JailOptions {
  uint32_t uid = kDefaultJailId;
  uint32_t gid = kDefaultJailId;
};

// --jail-user UID[:GID] (numbers; GID defaults to UID). Root (0) is refused: the point is to
// give it up. Throws vmm::ConfigError.
[[nodiscard]] JailOptions parse_jail_user(std::string_view text);

// Throws vmm::ConfigError when `config` cannot run jailed: user-mode networking makes host
// sockets for the guest at run time, and --exec serves the host's root file system. (A guest
// that reboots with --on-reboot restart boots again in a new jail: the old one gave up root.)
void check_jailable(const VmConfig& config);

// What vmm itself may use beyond guest RAM: page tables, device buffers, io_uring, stacks.
inline constexpr uint64_t kJailMemoryOverhead = 256ULL << 20;
// Threads and processes in the jail: vCPUs, the device loop, block I/O workers (io_uring's
// too), the API and console threads; generous for 16 queues a disk, still bounded.
inline constexpr int64_t kJailPidsLimit = 512;
// Open files once locked down: the VM's own fds are far below; new ones come only from API and
// vsock connections.
inline constexpr uint64_t kJailOpenFilesLimit = 4096;

// The jail's cgroup limits for `config`: memory (guest RAM plus kJailMemoryOverhead, no swap
// beyond it), kJailPidsLimit, and devices: the minimal /dev only (/dev/kvm, /dev/net/tun and
// /dev/vhost-net are open before the lock-down and need no rule).
[[nodiscard]] container::Resources jail_resources(const VmConfig& config);

// Host directories the locked-down root shows at their own paths: where vsock connections from
// the guest are made at run time (PATH_PORT beside the vsock socket).
[[nodiscard]] std::vector<std::string> jail_visible_directories(const VmConfig& config);

// Code a test build runs inside the locked-down vmm, right after the lock-down and before the
// guest starts (tests/kvm/jail_probe.cpp); vmm itself has none.
using LockedDownHook = void (*)();
void set_locked_down_hook(LockedDownHook hook) noexcept;

class Jail final {
 public:
  // Forks. In the child (in_jail()), the namespaces are entered, the cgroup joined and the
  // host's network namespace kept for attaching TAPs; the caller builds its VM and calls
  // lock_down(). In the parent the caller calls supervise(). Throws vmm::Error (nothing is
  // left behind) when the host cannot make the jail: not root, no cgroup hierarchy, ...
  [[nodiscard]] static Jail enter(const VmConfig& config, const JailOptions& options);

  Jail(const Jail&) = delete;
  Jail& operator=(const Jail&) = delete;
  Jail(Jail&& other) noexcept;
  Jail& operator=(Jail&&) = delete;
  ~Jail();

  [[nodiscard]] bool in_jail() const noexcept { return child_ == 0; }

  // Child: the root, the credentials and the limits described above. Once, after the VM is
  // built and before the guest runs. Throws vmm::Error.
  void lock_down();

  // Parent: waits for the jailed vmm and returns its exit status (128 + N when signal N ended
  // it). Each signal `take_signal` hands over (when `signal_fd` is readable) is passed on.
  [[nodiscard]] int supervise(int signal_fd,
                              const std::function<std::optional<int>()>& take_signal);

  // Child: tells the supervisor that the guest rebooted (and so should boot again, in a new
  // jail, under --on-reboot restart). Parent, after supervise(): whether it was told so.
  void report_guest_reboot() noexcept;
  [[nodiscard]] bool guest_rebooted() const noexcept { return guest_rebooted_; }

 private:
  Jail() = default;

  pid_t child_ = -1;
  JailOptions options_;
  container::Cgroup cgroup_;  // parent: removed once the jailed vmm has gone
  std::vector<std::string> visible_directories_;
  uint64_t memory_limit_ = 0;
  bool locked_down_ = false;
  UniqueFd report_;  // child: the write end to the supervisor; parent: the read end
  bool guest_rebooted_ = false;
};

}  // namespace vmm::jail
