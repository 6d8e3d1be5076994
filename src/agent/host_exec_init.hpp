#pragma once
// `vmm run --exec`: vmm-agent as PID 1 of the initramfs vmm made (vmm/common/
// host_exec_layout.hpp). It loads the modules, mounts the share tagged root read-only under a
// tmpfs overlay, moves into it, runs the command with /bin/sh -c (stdout and stderr through
// pipes it relays to hvc0 and ttyS0, stdin /dev/null), reports its status on the debug-exit
// port and powers off.
#include <string>
#include <string_view>

namespace vmm::agent {

// True when this initramfs is an --exec one (its command file is there).
[[nodiscard]] bool is_host_exec_initramfs();

// The status a shell reports for a waitpid() status: the exit code, or 128 + N for signal N.
[[nodiscard]] int shell_status(int wait_status) noexcept;

// The overlayfs options over `lower` with `upper` and `work`.
[[nodiscard]] std::string overlay_options(std::string_view lower, std::string_view upper,
                                          std::string_view work);

[[noreturn]] void run_host_exec_init();

}  // namespace vmm::agent
