// The guest agent's frame decoder and payload parsers on arbitrary bytes, as either peer may
// receive them: every input ends in frames or a ProtocolError, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <span>

#include "agent/frame.hpp"
#include "agent/messages.hpp"

namespace {

void parse_payload(const vmm::agent::Frame& frame) {
  using vmm::agent::FrameType;
  switch (frame.type) {
    case FrameType::kHello:
      (void)vmm::agent::parse_hello(frame);
      break;
    case FrameType::kError:
      (void)vmm::agent::parse_error(frame);
      break;
    case FrameType::kExec:
      (void)vmm::agent::parse_exec(frame);
      break;
    case FrameType::kResize:
      (void)vmm::agent::parse_window_size(frame);
      break;
    case FrameType::kSignal:
    case FrameType::kExit:
      (void)vmm::agent::parse_u32(frame);
      break;
    case FrameType::kFilePush:
      (void)vmm::agent::parse_file_push(frame);
      break;
    case FrameType::kFileInfo:
      (void)vmm::agent::parse_file_info(frame);
      break;
    case FrameType::kFilePull:
    case FrameType::kFileDelete:
      (void)vmm::agent::parse_path(frame);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte splits the input into the pieces a stream may deliver it in.
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  std::span<const uint8_t> rest(data + 1, size - 1);
  vmm::agent::FrameDecoder decoder;
  try {
    while (!rest.empty()) {
      const auto chunk = rest.first(std::min(piece, rest.size()));
      decoder.feed(chunk);
      rest = rest.subspan(chunk.size());
      while (auto frame = decoder.next()) {
        try {
          parse_payload(*frame);
        } catch (const vmm::agent::ProtocolError&) {
          // Reported to the peer: fine.
        }
        // What decodes must encode back to the same bytes.
        const auto encoded = vmm::agent::encode_frame(frame->type, frame->payload);
        vmm::agent::FrameDecoder again;
        again.feed(encoded);
        const auto round_trip = again.next();
        if (!round_trip || round_trip->payload != frame->payload) __builtin_trap();
      }
    }
  } catch (const vmm::agent::ProtocolError&) {
    // A bad header: reported to the peer, and the connection ends.
  }
  return 0;
}
