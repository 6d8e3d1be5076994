#include "container/console_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cerrno>
#include <cstring>

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
  char name[] = "/dev/ptmx";
  iovec iov{name, sizeof(name) - 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &master_fd, sizeof(int));
  if (::sendmsg(sock.get(), &msg, MSG_NOSIGNAL) < 0)
    throw system_error("cannot send the console", errno);
}

UniqueFd receive_console(int connection_fd) {
  std::array<char, 256> name{};
  iovec iov{name.data(), name.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  const ssize_t n = ::recvmsg(connection_fd, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) throw system_error("cannot receive the console", errno);
  UniqueFd received;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    if (c->cmsg_len != CMSG_LEN(sizeof(int))) throw Error("the console message holds no one fd");
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    received.reset(fd);
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) throw Error("the console message was truncated");
  return received;
}

}  // namespace vmm::container
