#pragma once
// `vmm run --exec`: the contract between the initramfs vmm writes and the guest init that
// reads it (vmm-agent started as PID 1). The command and its directory are files, so the
// command reaches /bin/sh -c byte for byte, with no quoting on the way.
#include <cstdint>
#include <string_view>

namespace vmm::host_exec {

// Paths inside the initramfs (absolute, as the guest sees them).
inline constexpr std::string_view kInitPath = "/vmm/vmm-agent";
inline constexpr std::string_view kCommandFile = "/vmm/exec/command";
inline constexpr std::string_view kCwdFile = "/vmm/exec/cwd";
inline constexpr std::string_view kModulesDir = "/vmm/modules";
// One module file name per line, in the order they are loaded.
inline constexpr std::string_view kModuleOrderFile = "/vmm/modules/load-order";

// The share the guest mounts as its root.
inline constexpr std::string_view kRootTag = "root";

// What the guest init writes to the debug-exit port: the command's status (0 to 255, 128 + N
// for a signal), or kInitFailed when it could not get as far as running the command (it has
// said why on the command's stderr).
inline constexpr uint16_t kStatusPort = 0xf4;
inline constexpr uint32_t kInitFailed = 0x100;

}  // namespace vmm::host_exec
