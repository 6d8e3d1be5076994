#include "agent/frame.hpp"

namespace vmm::agent {

bool is_known_frame_type(uint8_t type) noexcept {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
    case FrameType::kError:
    case FrameType::kOk:
    case FrameType::kExec:
    case FrameType::kStdin:
    case FrameType::kStdinEof:
    case FrameType::kResize:
    case FrameType::kSignal:
    case FrameType::kStdout:
    case FrameType::kStderr:
    case FrameType::kStdoutEof:
    case FrameType::kStderrEof:
    case FrameType::kExit:
    case FrameType::kFilePush:
    case FrameType::kFileData:
    case FrameType::kFileEnd:
    case FrameType::kFilePull:
    case FrameType::kFileInfo:
    case FrameType::kFileDelete:
      return true;
  }
  return false;
}

std::string frame_type_name(FrameType type) {
  switch (type) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kError:
      return "ERROR";
    case FrameType::kOk:
      return "OK";
    case FrameType::kExec:
      return "EXEC";
    case FrameType::kStdin:
      return "STDIN";
    case FrameType::kStdinEof:
      return "STDIN_EOF";
    case FrameType::kResize:
      return "RESIZE";
    case FrameType::kSignal:
      return "SIGNAL";
    case FrameType::kStdout:
      return "STDOUT";
    case FrameType::kStderr:
      return "STDERR";
    case FrameType::kStdoutEof:
      return "STDOUT_EOF";
    case FrameType::kStderrEof:
      return "STDERR_EOF";
    case FrameType::kExit:
      return "EXIT";
    case FrameType::kFilePush:
      return "FILE_PUSH";
    case FrameType::kFileData:
      return "FILE_DATA";
    case FrameType::kFileEnd:
      return "FILE_END";
    case FrameType::kFilePull:
      return "FILE_PULL";
    case FrameType::kFileInfo:
      return "FILE_INFO";
    case FrameType::kFileDelete:
      return "FILE_DELETE";
  }
  return "type " + std::to_string(static_cast<unsigned>(type));
}

void encode_frame(FrameType type, std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
  if (payload.size() > kMaxFramePayload) {
    throw ProtocolError(frame_type_name(type) + " payload of " + std::to_string(payload.size()) +
                        " bytes is over the limit of " + std::to_string(kMaxFramePayload));
  }
  const auto length = static_cast<uint32_t>(payload.size());
  for (unsigned shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<uint8_t>(length >> shift));
  }
  out.push_back(static_cast<uint8_t>(type));
  out.insert(out.end(), payload.begin(), payload.end());
}

void encode_frame(FrameType type, std::string_view payload, std::vector<uint8_t>& out) {
  encode_frame(
      type,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()),
      out);
}

std::vector<uint8_t> encode_frame(FrameType type, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out;
  out.reserve(kFrameHeaderSize + payload.size());
  encode_frame(type, payload, out);
  return out;
}

void FrameDecoder::feed(std::span<const uint8_t> bytes) {
  // Drop what was consumed before growing, so the buffer stays near one frame's size.
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > kMaxFramePayload) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

bool FrameDecoder::has_frame() const noexcept {
  if (pending() < kFrameHeaderSize) return false;
  const uint8_t* header = buffer_.data() + start_;
  uint32_t length = 0;
  for (unsigned i = 0; i < 4; ++i) length |= uint32_t{header[i]} << (8 * i);
  if (length > kMaxFramePayload || !is_known_frame_type(header[4])) return true;  // an error
  return pending() - kFrameHeaderSize >= length;
}

std::optional<Frame> FrameDecoder::next() {
  if (pending() < kFrameHeaderSize) return std::nullopt;
  const uint8_t* header = buffer_.data() + start_;
  uint32_t length = 0;
  for (unsigned i = 0; i < 4; ++i) length |= uint32_t{header[i]} << (8 * i);
  if (length > kMaxFramePayload) {
    throw ProtocolError("frame of " + std::to_string(length) + " bytes is over the limit of " +
                        std::to_string(kMaxFramePayload));
  }
  if (!is_known_frame_type(header[4])) {
    throw ProtocolError("unknown frame type " + std::to_string(unsigned{header[4]}));
  }
  if (pending() - kFrameHeaderSize < length) return std::nullopt;
  Frame frame;
  frame.type = static_cast<FrameType>(header[4]);
  const auto* begin = header + kFrameHeaderSize;
  frame.payload.assign(begin, begin + length);
  start_ += kFrameHeaderSize + length;
  return frame;
}

}  // namespace vmm::agent
