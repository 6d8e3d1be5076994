#pragma once
// The agent's EXEC: runs one command and relays its stdio, window size and signals over the
// connection until it exits (PROTOCOL.md, "EXEC").
#include "agent/frame.hpp"
#include "agent/messages.hpp"

namespace vmm::agent {

inline constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The command's environment: the defaults (PATH, HOME=/root for uid 0, TERM=xterm with a pty)
// overridden by the request's KEY=VALUE entries.
[[nodiscard]] std::vector<std::string> exec_environment(const ExecRequest& request);
// The working directory: the request's, else $HOME from the environment, else "/".
[[nodiscard]] std::string exec_directory(const ExecRequest& request,
                                         const std::vector<std::string>& environment);

// Serves an EXEC on `socket` (blocking), reading the host's frames through `decoder`. Returns
// after EXIT is sent, or after the host went away (the command's process group is killed).
void serve_exec(int socket, FrameDecoder& decoder, const ExecRequest& request);

}  // namespace vmm::agent
