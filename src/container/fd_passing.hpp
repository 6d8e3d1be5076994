#pragma once
// One message on a Unix socket with at most one descriptor riding along (SCM_RIGHTS): the
// runtime's sync channel and the console socket both speak it.
#include <cstddef>
#include <string>

#include "vmm/common/unique_fd.hpp"

namespace vmm::container {

// Sends `size` bytes and, when `fd` >= 0, the descriptor. vmm::Error naming `what` on failure.
void send_with_fd(int socket, const void* data, size_t size, int fd, const std::string& what);

struct ReceivedMessage {
  size_t size = 0;  // bytes read; 0 when the peer closed
  UniqueFd fd;      // the descriptor that came along, close-on-exec; empty when none did
};
// Receives one message of at most `size` bytes. vmm::Error naming `what` on failure or when
// the descriptor part was cut short.
[[nodiscard]] ReceivedMessage receive_with_fd(int socket, void* data, size_t size,
                                              const std::string& what);

}  // namespace vmm::container
