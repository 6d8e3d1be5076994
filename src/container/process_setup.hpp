#pragma once
// The last steps before the container's program runs: resource limits, working directory,
// credentials, capabilities, no_new_privs, seccomp, descriptor hygiene, execve.
#include <string>
#include <vector>

#include "container/oci_config.hpp"

namespace vmm::container {

// The capability set a container gets when the caller does not say otherwise (the default
// set of the common OCI tooling: containerd, Docker, Podman).
[[nodiscard]] std::vector<int> default_capabilities();

// PATH lookup in the container's own environment. Returns "" when nothing matches.
[[nodiscard]] std::string find_executable(const std::string& name,
                                          const std::vector<std::string>& env);

// Applies everything in `process` to the calling process and execs it. Never returns
// normally: throws vmm::Error if a step or the execve itself fails. Descriptors above
// 2 + preserve_fds are closed by the exec (so an error can still be reported before it).
[[noreturn]] void finalize_and_exec(const Process& process, const Seccomp* seccomp,
                                    int preserve_fds);

// Makes the fds >= first close on exec.
void close_fds_on_exec(unsigned first);

}  // namespace vmm::container
