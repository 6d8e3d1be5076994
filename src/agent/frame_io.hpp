#pragma once
// Frames over a file descriptor, blocking or not: writes finish (waiting out EAGAIN), reads
// return whole frames, both with an optional deadline.
#include <chrono>
#include <optional>
#include <span>
#include <string_view>

#include "agent/frame.hpp"

namespace vmm::agent {

using Clock = std::chrono::steady_clock;

// Writes every byte; waits in poll() when `fd` is non-blocking. vmm::Error on failure or when
// `deadline` passes.
void write_all(int fd, std::span<const uint8_t> bytes,
               std::optional<Clock::time_point> deadline = std::nullopt);
void send_frame(int fd, FrameType type, std::span<const uint8_t> payload = {});
void send_frame(int fd, FrameType type, std::string_view payload);

// Reads until `decoder` yields a frame. std::nullopt on end of stream between frames;
// vmm::Error for an end inside a frame, a read error or a passed deadline; ProtocolError for a
// bad frame.
[[nodiscard]] std::optional<Frame> read_frame(
    int fd, FrameDecoder& decoder, std::optional<Clock::time_point> deadline = std::nullopt);

// Milliseconds left until `deadline` for poll(): -1 without one, 0 once passed.
[[nodiscard]] int poll_timeout(std::optional<Clock::time_point> deadline);

}  // namespace vmm::agent
