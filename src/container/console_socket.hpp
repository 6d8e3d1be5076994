#pragma once
// --console-socket: hands the pty master to whoever listens on a Unix socket (containerd's
// shim does), the way runc does: one SCM_RIGHTS message naming the terminal.
#include <string>

#include "vmm/common/unique_fd.hpp"

namespace vmm::container {

void send_console(const std::string& socket_path, int master_fd);

// The other end: the terminal sent on an accepted connection; an empty fd when the peer closed
// without sending one. vmm::Error on a malformed message.
[[nodiscard]] UniqueFd receive_console(int connection_fd);

}  // namespace vmm::container
