#pragma once
// The guest kernel's command line as vmm edits it: looking for words, and the defaults that
// make `vmm run --kernel bzImage --disk root.img` boot as written.
#include <string>
#include <string_view>

#include "vmm/config/vm_config.hpp"

namespace vmm {

// Whether a space-separated word of `cmdline` is `word` (or, with `prefix`, starts with it).
[[nodiscard]] bool has_cmdline_word(std::string_view cmdline, std::string_view word,
                                    bool prefix = false) noexcept;

// Appends `extra` to `cmdline` with one space between them (none when either is empty).
[[nodiscard]] std::string append_cmdline(std::string cmdline, std::string_view extra);

// With disks and no root= on the command line, the first disk is the root file system:
// adds root=/dev/vda and rw (ro for a read-only disk). A kernel booted with an initramfs
// runs the initramfs's /init, which may use or ignore it.
void add_root_default(VmConfig& config);

}  // namespace vmm
