#include "container/sync_channel.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "container/fd_passing.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {

std::pair<SyncChannel, SyncChannel> SyncChannel::make_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw system_error("socketpair", errno);
  }
  return {SyncChannel(UniqueFd(fds[0])), SyncChannel(UniqueFd(fds[1]))};
}

void SyncChannel::send(SyncMessage type, const std::string& payload, int fd) const {
  std::string buf(1, static_cast<char>(type));
  buf += payload.substr(0, 4000);
  send_with_fd(fd_.get(), buf.data(), buf.size(), fd, "sync channel send");
}

Received SyncChannel::receive() const {
  std::array<char, 4096> buf{};
  ReceivedMessage message =
      receive_with_fd(fd_.get(), buf.data(), buf.size(), "sync channel receive");
  Received r;
  r.fd = std::move(message.fd);
  if (message.size == 0) {
    r.eof = true;
    return r;
  }
  r.type = static_cast<SyncMessage>(buf[0]);
  r.payload.assign(buf.data() + 1, message.size - 1);
  return r;
}

void SyncChannel::rethrow_if_error(const Received& r) {
  if (r.eof) return;
  if (r.type == SyncMessage::kError) throw Error(r.payload);
  if (r.type == SyncMessage::kUserError) throw ConfigError(r.payload);
}

void SyncChannel::send_current_exception() const noexcept {
  try {
    throw;
  } catch (const ConfigError& e) {
    try {
      send(SyncMessage::kUserError, e.what());
    } catch (...) {
    }
  } catch (const std::exception& e) {
    try {
      send(SyncMessage::kError, e.what());
    } catch (...) {
    }
  } catch (...) {
  }
}

Received SyncChannel::expect(SyncMessage expected) const {
  Received r = receive();
  if (r.eof) throw Error("container init exited during setup");
  rethrow_if_error(r);
  if (r.type != expected) throw Error("container init sent an unexpected message");
  return r;
}

}  // namespace vmm::container
