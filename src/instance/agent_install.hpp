#pragma once
// The guest agent on a VM instance's root disk: /usr/lib/vmm/vmm-agent and a hook that makes
// the image's init system start it (and restart it when it ends).
//
// The tree comes from an image and is untrusted: every path is resolved inside it (absolute
// symlinks and ".." stay within it), files are created with O_EXCL|O_NOFOLLOW and put in place
// by rename, and no existing file is ever written into, so a tree whose files are hard links
// into an image leaves that image as it was.
#include <filesystem>
#include <string>

namespace vmm::instance {

enum class AgentHook { kSystemd, kOpenRc, kInittab, kNone };

[[nodiscard]] const char* to_string(AgentHook hook) noexcept;

// Where the agent lies on the disk, and what the hooks start.
inline constexpr const char* kGuestAgentPath = "/usr/lib/vmm/vmm-agent";

// The hook for the init system of the tree at `root`, read only:
// /sbin/init linked to systemd -> kSystemd; to openrc-init, or /sbin/openrc present ->
// kOpenRc; /etc/inittab present (busybox or sysvinit) -> kInittab; a systemd binary in
// /lib/systemd or /usr/lib/systemd -> kSystemd; none of these -> kNone.
[[nodiscard]] AgentHook detect_agent_hook(const std::filesystem::path& root);

// `inittab` with a line that respawns the agent: sysvinit's "ID:2345:respawn:PATH" (a free
// ID) when the file has runlevels or an initdefault entry, busybox's "::respawn:PATH"
// otherwise. Unchanged when the agent is already in it. Pure.
[[nodiscard]] std::string add_agent_to_inittab(std::string inittab);

// Installs `agent_binary` as /usr/lib/vmm/vmm-agent (0755) and the hook detect_agent_hook()
// picks into the tree at `root`, which must be a private copy that becomes a disk, never an
// image's own tree. Returns the hook; kNone leaves the tree untouched. vmm::Error when a file
// cannot be placed (a dangling /etc symlink, a directory where a file goes).
//   systemd: /etc/systemd/system/vmm-agent.service (Restart=always), enabled for
//            multi-user.target by its .wants/ link
//   OpenRC:  /etc/init.d/vmm-agent (supervise-daemon respawns it) in runlevel default
//   inittab: a respawn line (add_agent_to_inittab)
AgentHook install_agent(const std::filesystem::path& root,
                        const std::filesystem::path& agent_binary);

}  // namespace vmm::instance
