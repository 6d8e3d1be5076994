#pragma once
// What a container whose program is a full init (systemd, OpenRC, busybox init) needs beyond an
// application container: systemd's "container interface" (/run, /run/lock and /tmp as tmpfs
// when init starts, a cgroup file system it may write to, a terminal as /dev/console, and
// `container=` in its environment), the capabilities with which its services set themselves
// up, and the signal that asks it to halt. Used by `vmm container run` for an init and by the
// instance manager for every container instance.
#include <csignal>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "container/oci_config.hpp"

namespace vmm::container {

// The value of `container=` in init's environment (systemd-detect-virt: container-other).
inline constexpr const char* kSystemContainerEnv = "container=vmm";

// The tmpfs mounts added to the runtime's defaults.
[[nodiscard]] std::vector<Mount> system_container_mounts();

// Every capability but those that reach past the container into the host (LXC keeps the same
// set: it drops mac_admin, mac_override, sys_time, sys_module and sys_rawio), and of those only
// the ones this process holds itself (a host may withhold some; they cannot be handed on).
[[nodiscard]] std::vector<int> system_container_capabilities();

// The system call filter: what LXC denies its containers (loading kernels and modules, opening
// files by handle) and keyctl as absent, since the kernel keyring is not namespaced. An init
// mounts, unshares and pivots for its services, which an application container's filter denies.
[[nodiscard]] Seccomp system_container_seccomp();

// Whether a command is an init: /sbin/init, init, or a path ending in systemd.
[[nodiscard]] bool is_init_command(const std::vector<std::string>& command);

// The signal that asks the init of `rootfs` to shut the system down: SIGRTMIN+3 for systemd
// (its /sbin/init links to it), SIGTERM for others.
[[nodiscard]] int halt_signal(const std::filesystem::path& rootfs);

}  // namespace vmm::container
