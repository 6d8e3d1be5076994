#pragma once
// The per-architecture functions the VM builder calls, for the architecture being built: each
// arch directory declares the same names in its arch.hpp, and this is the one place that
// chooses between them.
#if defined(__x86_64__)
#include "arch/x86_64/arch.hpp"  // IWYU pragma: export
#elif defined(__aarch64__)
#include "arch/aarch64/arch.hpp"  // IWYU pragma: export
#else
#error "vmm builds for x86-64 and arm64 hosts only"
#endif
