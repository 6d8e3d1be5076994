#pragma once
// The kernel command line, written NUL-terminated at kCmdlineAddr.
#include <cstdint>
#include <string_view>

#include "vmm/memory/guest_memory.hpp"

namespace vmm::loader {

// Longest command line (without the NUL) for a kernel that accepts `kernel_max` bytes: the
// kernel's limit, capped by the VMM's area at kCmdlineAddr.
[[nodiscard]] uint64_t cmdline_limit(uint64_t kernel_max) noexcept;

// Throws ConfigError "kernel command line is N bytes, the kernel accepts at most M" when too
// long, or when it contains a NUL (the kernel would silently drop the rest).
void write_cmdline(const GuestMemory& mem, std::string_view cmdline, uint64_t kernel_max);

}  // namespace vmm::loader
