#include "container/sync_channel.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

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
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  if (fd >= 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  while (::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) throw system_error("sync channel send", errno);
  }
}

Received SyncChannel::receive() const {
  std::array<char, 4096> buf{};
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n = 0;
  while ((n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) throw system_error("sync channel receive", errno);
  }
  Received r;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      r.fd.reset(fd);
    }
  }
  if (n == 0) {
    r.eof = true;
    return r;
  }
  r.type = static_cast<SyncMessage>(buf[0]);
  r.payload.assign(buf.data() + 1, static_cast<size_t>(n - 1));
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
