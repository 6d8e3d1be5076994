#pragma once
// `vmm run --exec CMD`: the command, the guest directory it starts in, and the kernel command
// line such a guest boots with.
#include <filesystem>
#include <string>
#include <vector>

#include "vmm/config/share_config.hpp"
#include "vmm/config/vm_config.hpp"

namespace vmm::cli {

// No console= (kernel messages go nowhere, so stdout and stderr carry only the command's); a
// panic reboots at once, which vmm reports as a guest that ended without a status.
inline constexpr const char* kHostExecCmdline = "reboot=k panic=-1 pci=noearly quiet";

// The guest path of `host_dir` in a root that is the host directory `root`: "/" plus the part
// below root, or "/" when host_dir is not inside it. Both are taken as they are (the caller
// makes them canonical). Pure.
[[nodiscard]] std::string guest_cwd(const std::filesystem::path& root,
                                    const std::filesystem::path& host_dir);

// The --exec configuration: `command`, and the current directory as guest_cwd() of the share
// tagged root (canonical paths). Throws ConfigError for an empty command or no such share.
[[nodiscard]] HostExecConfig host_exec_config(const std::string& command,
                                              const std::vector<ShareConfig>& shares);

}  // namespace vmm::cli
