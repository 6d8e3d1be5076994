#pragma once
// Seccomp through libseccomp: the OCI profile from config.json, or the runtime's default.
#include "container/oci_config.hpp"

namespace vmm::container {

// The default profile: every syscall allowed except the ones that reach kernel state a
// container must never touch (modules, kexec, reboot, clocks, keyrings, bpf, perf, mounting,
// namespaces, ptrace-like memory access, io_uring), which fail with EPERM. Also applied to the
// i386 and x32 ABIs so they cannot be used to bypass it.
[[nodiscard]] Seccomp default_seccomp_profile();

// Compiles and loads `profile` into the calling thread. Throws vmm::ConfigError for unknown
// actions/operators and vmm::Error when the kernel refuses the filter. Unknown syscall names
// are skipped (the kernel may be older than the profile), as runc does.
void load_seccomp(const Seccomp& profile);

}  // namespace vmm::container
