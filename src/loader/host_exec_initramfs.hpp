#pragma once
// The whole initramfs of `vmm run --exec`, made in memory: vmm-agent as init, the kernel
// modules it loads, and the command and working directory as files it reads
// (vmm/common/host_exec_layout.hpp).
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "loader/host_exec_modules.hpp"

namespace vmm::loader {

// A newc archive with /dev, /proc, /sys, /vmm (and the mount points the init uses), the
// executable /vmm/vmm-agent, /vmm/modules/* with their load-order file, /vmm/exec/command
// holding `command` byte for byte and /vmm/exec/cwd holding `cwd`. Throws vmm::Error for a
// command or cwd with a NUL byte (a shell could never see it).
[[nodiscard]] std::vector<uint8_t> host_exec_initramfs(std::span<const uint8_t> init,
                                                       std::span<const GuestModule> modules,
                                                       std::string_view command,
                                                       std::string_view cwd);

}  // namespace vmm::loader
