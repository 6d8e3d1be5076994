#include "agent/frame_io.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace vmm::agent {
namespace {

void wait_for(int fd, short events, std::optional<Clock::time_point> deadline) {
  pollfd pfd{fd, events, 0};
  for (;;) {
    const int ready = ::poll(&pfd, 1, poll_timeout(deadline));
    if (ready > 0) return;
    if (ready == 0) throw Error("agent connection: timed out");
    if (errno != EINTR) throw system_error("agent connection: poll", errno);
  }
}

}  // namespace

int poll_timeout(std::optional<Clock::time_point> deadline) {
  if (!deadline) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60'000 ? 60'000 : static_cast<int>(left);
}

void write_all(int fd, std::span<const uint8_t> bytes, std::optional<Clock::time_point> deadline) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n > 0) {
      bytes = bytes.subspan(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait_for(fd, POLLOUT, deadline);
    } else if (n < 0 && errno != EINTR) {
      throw system_error("agent connection: write", errno);
    }
  }
}

void send_frame(int fd, FrameType type, std::span<const uint8_t> payload) {
  write_all(fd, encode_frame(type, payload));
}

void send_frame(int fd, FrameType type, std::string_view payload) {
  std::vector<uint8_t> frame;
  encode_frame(type, payload, frame);
  write_all(fd, frame);
}

std::optional<Frame> read_frame(int fd, FrameDecoder& decoder,
                                std::optional<Clock::time_point> deadline) {
  std::array<uint8_t, kDataChunk> buffer{};
  for (;;) {
    if (auto frame = decoder.next()) return frame;
    // A blocking descriptor would wait in read() past the deadline.
    if (deadline) wait_for(fd, POLLIN, deadline);
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      decoder.feed(std::span(buffer.data(), static_cast<size_t>(n)));
    } else if (n == 0) {
      if (decoder.pending() != 0) throw Error("agent connection: closed inside a frame");
      return std::nullopt;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait_for(fd, POLLIN, deadline);
    } else if (errno != EINTR) {
      throw system_error("agent connection: read", errno);
    }
  }
}

}  // namespace vmm::agent
