#pragma once
// Listening on a Unix socket path that a previous run may have left behind: a socket nobody
// listens on any more is stale and replaced; anything else at the path (a live server's
// socket, a regular file, a directory) is refused, naming the path, never removed.
#include <filesystem>

#include "vmm/common/unique_fd.hpp"

namespace vmm {

// Whether a server accepts connections on `path` now.
[[nodiscard]] bool unix_socket_has_listener(const std::filesystem::path& path);

// Removes a stale socket at `path`, if any, so that it can be bound. Throws
// HostResourceError when something else is there.
void claim_unix_socket_path(const std::filesystem::path& path);

// A non-blocking, close-on-exec SOCK_STREAM socket listening on `path` (claimed as above),
// with permissions 0600 from the moment it exists. Throws ConfigError when the path does not
// fit in a sockaddr_un, HostResourceError when it cannot be claimed or bound.
[[nodiscard]] UniqueFd listen_unix_socket(const std::filesystem::path& path, int backlog);

}  // namespace vmm
