#pragma once
// Where the host finds the guest agent (vmm-agent, a static guest program) to put into guests.
#include <filesystem>
#include <vector>

namespace vmm::agent {

// The places find_agent_binary() looks, in order, for a vmm executable in `exe_dir`:
// <exe_dir>/vmm-agent (a build tree), <exe_dir>/../lib/vmm/vmm-agent (an installed prefix),
// /usr/local/lib/vmm/vmm-agent, /usr/lib/vmm/vmm-agent. Pure.
[[nodiscard]] std::vector<std::filesystem::path> agent_binary_candidates(
    const std::filesystem::path& exe_dir);

// $VMM_AGENT_BINARY when set (it must name a regular file), else the first regular file among
// agent_binary_candidates() of the running executable's directory. Throws vmm::ConfigError
// when $VMM_AGENT_BINARY names no file, vmm::HostResourceError with one line naming every
// place it looked when there is none.
[[nodiscard]] std::filesystem::path find_agent_binary();

}  // namespace vmm::agent
