#include "cli/agent_exec.hpp"

#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "agent/agent_client.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

// How long the agent may take to answer a connection.
constexpr auto kConnectTimeout = std::chrono::seconds(10);

}  // namespace

int exec_through_agent(const std::filesystem::path& vsock_socket, const AgentExecOptions& options) {
  agent::ExecRequest request;
  request.argv = options.command;
  request.environment = options.environment;
  request.cwd = options.cwd;
  request.uid = options.uid;
  request.gid = options.gid;
  request.pty = options.terminal == TerminalMode::kAlways ||
                (options.terminal == TerminalMode::kAuto && ::isatty(STDIN_FILENO) == 1 &&
                 ::isatty(STDOUT_FILENO) == 1);
  agent::AgentConnection connection = [&] {
    try {
      return agent::AgentConnection::open(
          agent::connect_through_vsock(vsock_socket, agent::kAgentPort, kConnectTimeout),
          kConnectTimeout);
    } catch (const Error& e) {
      throw StateError(std::string("the guest agent does not answer: ") + e.what());
    }
  }();
  return agent::run_exec_on_terminal(connection, request);
}

void parse_exec_user(const std::string& text, AgentExecOptions& options) {
  // Digits and at most one colon: stoul alone would take "-1" and " 5".
  const bool well_formed = !text.empty() && text.front() != ':' && text.back() != ':' &&
                           text.find_first_not_of("0123456789:") == std::string::npos &&
                           text.find(':') == text.rfind(':');
  if (!well_formed) throw ConfigError("--user", "\"" + text + "\" is not UID or UID:GID");
  try {
    size_t used = 0;
    options.uid = static_cast<uint32_t>(std::stoul(text, &used));
    options.gid = options.uid;
    if (used < text.size()) {
      if (text[used] != ':') throw std::invalid_argument(text);
      const std::string group = text.substr(used + 1);
      options.gid = static_cast<uint32_t>(std::stoul(group, &used));
      if (used != group.size()) throw std::invalid_argument(text);
    }
  } catch (const std::exception&) {
    throw ConfigError("--user", "\"" + text + "\" is not UID or UID:GID");
  }
}

}  // namespace vmm::cli
