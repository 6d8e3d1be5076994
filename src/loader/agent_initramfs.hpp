#pragma once
// The initramfs fragment of `vmm run --agent`: the guest agent at /vmm/vmm-agent, appended to
// the user's initrd (the kernel unpacks concatenated archives one after the other) and started
// as the initramfs's first process with rdinit=. The agent then runs the initramfs's own /init.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace vmm::loader {

// Where the agent lies in the guest's initramfs, and the command-line word that starts it.
inline constexpr std::string_view kAgentInitramfsPath = "/vmm/vmm-agent";
inline constexpr std::string_view kAgentRdinit = "rdinit=/vmm/vmm-agent";

// A newc archive holding the directory /vmm and the executable /vmm/vmm-agent (both 0755,
// owned by root) with the bytes of `agent`.
[[nodiscard]] std::vector<uint8_t> agent_initramfs(std::span<const uint8_t> agent);

}  // namespace vmm::loader
