#include "vmm/common/unix_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm {
namespace {

bool to_sockaddr(const std::filesystem::path& path, sockaddr_un& addr) {
  if (path.native().empty() || path.native().size() >= sizeof(addr.sun_path)) return false;
  addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.native().size());
  return true;
}

}  // namespace

bool unix_socket_has_listener(const std::filesystem::path& path) {
  sockaddr_un addr{};
  if (!to_sockaddr(path, addr)) return false;
  const UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

void claim_unix_socket_path(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // nothing there
  if (!S_ISSOCK(st.st_mode)) throw HostResourceError(path.string() + " exists and is not a socket");
  if (unix_socket_has_listener(path)) {
    throw HostResourceError(path.string() + " is in use by a running server");
  }
  ::unlink(path.c_str());  // stale: nobody listens
}

UniqueFd listen_unix_socket(const std::filesystem::path& path, int backlog) {
  sockaddr_un addr{};
  if (!to_sockaddr(path, addr)) {
    throw ConfigError(path.string() + " is too long (or empty) for a Unix socket path");
  }
  claim_unix_socket_path(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd)
    throw HostResourceError(std::string("cannot create a Unix socket: ") + std::strerror(errno));
  // The mode comes from the umask at bind time: 0600 from the start, no window.
  const mode_t old_umask = ::umask(0177);
  const int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  ::umask(old_umask);
  if (rc != 0) {
    throw HostResourceError("cannot listen on " + path.string() + ": " + std::strerror(bind_errno));
  }
  if (::listen(fd.get(), backlog) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw HostResourceError("cannot listen on " + path.string() + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace vmm
