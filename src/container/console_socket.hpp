#pragma once
// --console-socket: hands the pty master to whoever listens on a Unix socket (containerd's
// shim does), the way runc does: one SCM_RIGHTS message naming the terminal.
#include <string>

namespace vmm::container {

void send_console(const std::string& socket_path, int master_fd);

}  // namespace vmm::container
