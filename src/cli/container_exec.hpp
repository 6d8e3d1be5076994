#pragma once
// `vmm exec` into a running container instance, for a root caller on the daemon's host: the
// container runtime's own exec (`vmm oci --root ROOT exec`), so the command gets the caller's
// stdin, stdout and stderr, or a pty on the caller's terminal, as `lxc exec` gives.
#include <filesystem>
#include <string>

#include "cli/agent_exec.hpp"
#include "instance/container_backend.hpp"

namespace vmm::cli {

// Whether `mode` asks for a pty here: kAuto when stdin and stdout are terminals.
[[nodiscard]] bool wants_terminal(TerminalMode mode);

// Runs the command in container `name` of the runtime at `runtime_root` and returns its exit
// status: 127 or 126 with a shell's message when the container has no such command, or
// cannot run it. vmm::StateError when the container is not running.
int exec_in_container(const std::filesystem::path& runtime_root, const std::string& name,
                      const instance::ExecOptions& options, TerminalMode mode);

}  // namespace vmm::cli
