#pragma once
// The guest agent's wire format (PROTOCOL.md): frames of a le32 payload length, a u8 type and
// the payload, over any byte stream. Shared by the agent in the guest and the host's client.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/common/error.hpp"

namespace vmm::agent {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 5;
// Large enough for a data chunk and any control message, small enough to buffer one per peer.
inline constexpr uint32_t kMaxFramePayload = 1U << 20;
// Data frames carry at most this much: stdin/stdout/stderr and file contents.
inline constexpr size_t kDataChunk = size_t{64} * 1024;

enum class FrameType : uint8_t {
  kHello = 0x01,       // agent -> host, on connect: JSON {"protocol", "agent"}
  kError = 0x02,       // either way: a UTF-8 message; the sender then closes
  kOk = 0x03,          // agent -> host: a file request succeeded
  kExec = 0x10,        // host -> agent: JSON ExecRequest
  kStdin = 0x11,       // host -> agent: bytes
  kStdinEof = 0x12,    // host -> agent
  kResize = 0x13,      // host -> agent: le16 rows, le16 cols
  kSignal = 0x14,      // host -> agent: le32 signal number
  kStdout = 0x15,      // agent -> host: bytes
  kStderr = 0x16,      // agent -> host: bytes
  kStdoutEof = 0x17,   // agent -> host
  kStderrEof = 0x18,   // agent -> host
  kExit = 0x19,        // agent -> host: le32 exit status
  kFilePush = 0x20,    // host -> agent: JSON FileInfo + path, then kFileData..., kFileEnd
  kFileData = 0x21,    // either way: bytes of a file
  kFileEnd = 0x22,     // either way: the end of a file's data
  kFilePull = 0x23,    // host -> agent: JSON {"path"}
  kFileInfo = 0x24,    // agent -> host: JSON FileInfo + size, then kFileData..., kFileEnd
  kFileDelete = 0x25,  // host -> agent: JSON {"path"}
};

// True when `type` is one this protocol version defines.
[[nodiscard]] bool is_known_frame_type(uint8_t type) noexcept;
[[nodiscard]] std::string frame_type_name(FrameType type);

struct Frame {
  FrameType type = FrameType::kError;
  std::vector<uint8_t> payload;

  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
};

// A peer broke the protocol: a frame too large, of an unknown type, or a payload that does not
// parse. The receiver reports it (kError) and closes; it never crashes.
class ProtocolError : public Error {
 public:
  explicit ProtocolError(const std::string& what) : Error("agent protocol: " + what) {}
};

// Appends one encoded frame to `out`. Throws ProtocolError for a payload over kMaxFramePayload.
void encode_frame(FrameType type, std::span<const uint8_t> payload, std::vector<uint8_t>& out);
void encode_frame(FrameType type, std::string_view payload, std::vector<uint8_t>& out);
[[nodiscard]] std::vector<uint8_t> encode_frame(FrameType type, std::span<const uint8_t> payload);

// Splits a byte stream into frames. Bytes arrive in any pieces; a frame is returned once whole.
class FrameDecoder final {
 public:
  void feed(std::span<const uint8_t> bytes);
  // The next whole frame, if one is buffered. ProtocolError for an oversize or unknown frame
  // (checked from the header alone, before its payload is buffered).
  [[nodiscard]] std::optional<Frame> next();
  // Bytes buffered that do not yet form a frame.
  [[nodiscard]] size_t pending() const noexcept { return buffer_.size() - start_; }
  // True when next() has a frame to return without more input (or an error to throw).
  [[nodiscard]] bool has_frame() const noexcept;

 private:
  std::vector<uint8_t> buffer_;
  size_t start_ = 0;
};

}  // namespace vmm::agent
