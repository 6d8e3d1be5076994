#pragma once
// CVE-2019-5736 class: a process in the container opens /proc/<runtime pid>/exe and writes
// through it to replace the runtime binary on the host. The runtime therefore re-executes
// itself from a sealed, anonymous memfd copy before it touches a container: writing to that
// copy is refused (F_SEAL_WRITE) and it is not the host's file anyway.
namespace vmm::container {

// True when /proc/self/exe is a memfd with write/grow/shrink/seal seals.
[[nodiscard]] bool running_from_sealed_copy();

// Returns when already sealed; otherwise execs the sealed copy with the same argv and
// environment (so it never returns). Throws vmm::Error if that cannot be done.
void ensure_running_from_sealed_copy();

}  // namespace vmm::container
