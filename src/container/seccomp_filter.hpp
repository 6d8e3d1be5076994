#pragma once
// Seccomp through libseccomp: the OCI profile from config.json, or the runtime's default.
#include <linux/filter.h>

#include <span>
#include <vector>

#include "container/oci_config.hpp"

namespace vmm::container {

// The default profile: every syscall allowed except the ones that reach kernel state a
// container must never touch (modules, kexec, reboot, clocks, keyrings, bpf, perf, mounting,
// namespaces, ptrace-like memory access, io_uring), which fail with EPERM. Also applied to the
// i386 and x32 ABIs so they cannot be used to bypass it.
[[nodiscard]] Seccomp default_seccomp_profile();

// Compiles `profile` into the BPF program the kernel runs, as libseccomp generates it. Throws
// vmm::ConfigError for unknown actions/operators. Unknown syscall names are skipped (the kernel
// may be older than the profile), as runc does.
[[nodiscard]] std::vector<sock_filter> compile_seccomp(const Seccomp& profile);

// Loads a compiled program into the calling thread, as libseccomp's seccomp_load would (no
// flags; no_new_privs or CAP_SYS_ADMIN is the caller's business). Throws vmm::Error when the
// kernel refuses it.
void load_seccomp_program(std::span<const sock_filter> program);

// compile_seccomp + load_seccomp_program; the default profile comes precompiled (the program
// generated at build time, seccomp_gen/), which saves libseccomp's work on every start.
void load_seccomp(const Seccomp& profile);

// The default profile's program as generated at build time.
[[nodiscard]] std::span<const sock_filter> precompiled_default_seccomp();

}  // namespace vmm::container
