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

// The steps whose failure is the caller's to see at `create` (runc's order): OOM score,
// resource limits, the working directory (created when missing), and the executable, found
// in the container's PATH. Returns the program to execute. Errors use runc's wording
// ("executable file not found in $PATH", "no such file or directory", "permission denied"),
// which the OCI clients turn into exit statuses 127 and 126.
[[nodiscard]] std::string prepare_exec(const Process& process);

// Applies the rest of `process` to the calling process and execs `program`. Never returns
// normally: throws vmm::Error if a step or the execve itself fails. Descriptors above
// 2 + preserve_fds are closed by the exec (so an error can still be reported before it);
// that is arranged first, before a seccomp filter could forbid it.
[[noreturn]] void finalize_and_exec(const Process& process, const std::string& program,
                                    const Seccomp* seccomp, int preserve_fds);

// Empties the calling thread's capability bounding set: nothing it or the threads it starts
// could exec would gain a capability back. The capabilities held now stay.
void clear_bounding_set();

// Makes the calling process `user` (its uid and gid, no supplementary groups) with no
// capabilities left in any set and no_new_privs set: how a jailed vmm gives up root once its
// VM is built (glibc changes the ids of every thread). Throws vmm::Error.
void drop_to_user(const User& user);

// Makes the fds >= first close on exec (close_range, or /proc/self/fd where it is missing).
void close_fds_on_exec(unsigned first);

}  // namespace vmm::container
