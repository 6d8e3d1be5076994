#pragma once
// `vmm exec` into a virtual machine and `vmm ctl exec`: a command through the guest agent,
// reached over the VM's vsock socket, with the caller's stdin, stdout and stderr (or one pty).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vmm::cli {

enum class TerminalMode { kAuto, kAlways, kNever };

struct AgentExecOptions {
  std::vector<std::string> command;
  std::vector<std::string> environment;  // KEY=VALUE
  std::string cwd;
  uint32_t uid = 0;
  uint32_t gid = 0;
  // kAuto: a pty when stdin and stdout are terminals, as `lxc exec` does.
  TerminalMode terminal = TerminalMode::kAuto;
};

// The command's exit status. vmm::StateError when the agent does not answer.
int exec_through_agent(const std::filesystem::path& vsock_socket, const AgentExecOptions& options);

// "UID" or "UID:GID" into options; vmm::ConfigError naming --user otherwise.
void parse_exec_user(const std::string& text, AgentExecOptions& options);

}  // namespace vmm::cli
