#include "vmm/config/vsock_config.hpp"

#include <sys/un.h>

#include <system_error>

namespace vmm {

std::string vsock_cid_problem(uint64_t cid) {
  if (cid < kVsockMinGuestCid) return "must be at least 3 (0, 1 and 2 are reserved)";
  if (cid > kVsockMaxGuestCid) return "must be at most 4294967294 (0xffffffff means any CID)";
  return {};
}

std::string vsock_socket_problem(const std::filesystem::path& socket) {
  if (socket.empty()) return "must not be empty";
  if (socket.native().size() >= sizeof(sockaddr_un::sun_path)) {
    return socket.string() + " is longer than a Unix socket path may be (" +
           std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)";
  }
  if (socket.filename().empty()) return socket.string() + " names a directory, not a socket";
  const std::filesystem::path dir =
      socket.has_parent_path() ? socket.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return socket.string() + ": the directory " + dir.string() + " does not exist";
  }
  const auto status = std::filesystem::symlink_status(socket, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_socket(status)) {
    return socket.string() + " exists and is not a socket";
  }
  return {};
}

}  // namespace vmm
