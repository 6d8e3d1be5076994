#pragma once
// The host's side of the guest agent (PROTOCOL.md): reach it through a VM's vsock socket, run
// commands and move files. One request per AgentConnection; open another for the next.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "agent/frame.hpp"
#include "agent/messages.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::agent {

inline constexpr uint32_t kAgentPort = 1024;

// A stream to guest vsock `port` through a VM's vsock Unix socket (Firecracker's CONNECT
// convention). Throws vmm::Error naming the socket when it cannot connect or the VMM refuses.
UniqueFd connect_through_vsock(const std::filesystem::path& socket, uint32_t port,
                               std::chrono::milliseconds timeout);
// A stream to an agent listening on a Unix socket itself (vmm-agent --listen unix:PATH).
UniqueFd connect_unix(const std::filesystem::path& path);

struct ExecIo {
  int stdin_fd = -1;   // -1: none (the command reads EOF)
  int stdout_fd = -1;  // -1: discard
  int stderr_fd = -1;  // -1: discard
};

// What may be sent to a running command besides its input.
class ExecChannel {
 public:
  virtual void resize(uint16_t rows, uint16_t cols) = 0;
  virtual void signal(int signo) = 0;

 protected:
  ExecChannel() = default;
  ~ExecChannel() = default;
  ExecChannel(const ExecChannel&) = default;
  ExecChannel& operator=(const ExecChannel&) = default;
};

// Events beside the command's stdio: whenever `fd` is readable, on_ready runs (it must consume
// what made `fd` readable) and may resize or signal through the channel.
struct ExecControl {
  int fd = -1;
  std::function<void(ExecChannel&)> on_ready;
};

class AgentConnection final {
 public:
  // Takes a connected stream and reads the agent's HELLO within `timeout` (vmm::Error otherwise).
  static AgentConnection open(UniqueFd stream, std::chrono::milliseconds timeout);

  [[nodiscard]] const AgentInfo& info() const noexcept { return info_; }

  // Runs a command to completion: stdin_fd copied to the process until EOF, its output to the fds.
  // Returns the exit status (0-255; 128+N for signal N; 127/126 as the agent reports).
  // vmm::Error when the agent reports an error (a bad cwd, uid) or the connection fails.
  int exec(const ExecRequest& request, const ExecIo& io);
  int exec(const ExecRequest& request, const ExecIo& io, const ExecControl& control);

  // vmm::NotFoundError when the path (or its directory) does not exist, vmm::Error otherwise.
  void push_file(const std::string& path, const FileInfo& info, std::span<const uint8_t> content);
  // `content` receives a file's bytes; vmm::Error when there are more than `max_bytes`.
  FileInfo pull_file(const std::string& path, std::vector<uint8_t>& content, size_t max_bytes);
  void delete_file(const std::string& path);

 private:
  AgentConnection(UniqueFd stream, AgentInfo info, FrameDecoder decoder)
      : stream_(std::move(stream)), info_(std::move(info)), decoder_(std::move(decoder)) {}
  void start_request();
  [[nodiscard]] Frame read_answer(const char* request);

  UniqueFd stream_;
  AgentInfo info_;
  FrameDecoder decoder_;
  bool used_ = false;
};

// For a command-line front end: runs `request` with the user's terminal. With request.pty and a
// terminal on stdin: raw mode (restored on every exit path), window size taken from stdin's tty and
// re-sent on SIGWINCH. Without a pty: SIGINT/SIGTERM/SIGHUP received are forwarded as SIGNAL.
// Returns the exit status.
int run_exec_on_terminal(AgentConnection& connection, ExecRequest request);

// Polls until the agent answers HELLO through the vsock socket or `timeout` passes; false on
// timeout.
bool wait_for_agent(const std::filesystem::path& vsock_socket, std::chrono::milliseconds timeout);

}  // namespace vmm::agent
