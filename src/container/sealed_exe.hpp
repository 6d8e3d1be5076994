#pragma once
// CVE-2019-5736 class: a process in the container opens /proc/<runtime pid>/exe and writes
// through it to replace the runtime binary on the host. The runtime therefore re-executes
// itself from a sealed, anonymous memfd copy before it touches a container: writing to that
// copy is refused (F_SEAL_WRITE) and it is not the host's file anyway.
namespace vmm::container {

// True when /proc/self/exe is a memfd with write/grow/shrink/seal seals.
[[nodiscard]] bool running_from_sealed_copy();

// True when the seals in `seals` (F_GET_SEALS) make a copy safe to run from.
[[nodiscard]] bool sealed_enough(int seals);

// Returns when already sealed; otherwise execs the sealed copy with the same argv and
// environment (so it never returns). Throws vmm::Error if that cannot be done.
void ensure_running_from_sealed_copy();

// True for the command lines that start a container and so call
// ensure_running_from_sealed_copy: `container run` and `oci create|run|exec` (also invoked as
// runc or vmm-runc). A guess from argv alone; the later call stays the one that decides.
[[nodiscard]] bool command_needs_sealed_copy(int argc, const char* const* argv);

// For the program's .preinit_array: when command_needs_sealed_copy, execs the sealed copy
// before any library or static initialiser runs, so the first start pays only for loading.
// Returns on any failure: ensure_running_from_sealed_copy then reports it.
void reexec_sealed_early(int argc, char** argv, char** envp) noexcept;

}  // namespace vmm::container
