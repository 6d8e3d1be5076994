// A minimal front end for the terminal test: runs a command through the agent on a Unix socket
// with run_exec_on_terminal, and exits with its status.
//   vmm_agent_terminal_runner SOCKET pty|pipes ARGV...
#include <cstdio>
#include <string>

#include "agent/agent_client.hpp"

int main(int argc, char** argv) {
  using namespace vmm::agent;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s SOCKET pty|pipes ARGV...\n", argv[0]);
    return 2;
  }
  try {
    auto connection = AgentConnection::open(connect_unix(argv[1]), std::chrono::seconds(5));
    ExecRequest request;
    request.pty = std::string(argv[2]) == "pty";
    request.argv.assign(argv + 3, argv + argc);
    return run_exec_on_terminal(connection, request);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runner: %s\n", e.what());
    return 255;
  }
}
