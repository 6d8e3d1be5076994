#include "container/console_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "container/fd_passing.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::container {

void send_console(const std::string& socket_path, int master_fd) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) throw system_error("socket", errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path))
    throw ConfigError("--console-socket path is too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw system_error("cannot connect to console socket " + socket_path, errno);
  }
  const std::string name = "/dev/ptmx";
  send_with_fd(sock.get(), name.data(), name.size(), master_fd, "cannot send the console");
}

UniqueFd receive_console(int connection_fd) {
  std::array<char, 256> name{};
  return receive_with_fd(connection_fd, name.data(), name.size(), "cannot receive the console").fd;
}

}  // namespace vmm::container
