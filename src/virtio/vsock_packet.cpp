#include "vmm/virtio/vsock_packet.hpp"

#include <bit>

namespace vmm::virtio {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the vsock header is encoded by byte copies on a little-endian host");

template <typename T>
void put(std::array<uint8_t, kVsockHeaderSize>& out, size_t offset, T value) noexcept {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i));
  }
}

template <typename T>
T get(std::span<const uint8_t, kVsockHeaderSize> in, size_t offset) noexcept {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= uint64_t{in[offset + i]} << (8 * i);
  return static_cast<T>(value);
}

// Field offsets of struct virtio_vsock_hdr.
constexpr size_t kSrcCid = 0;
constexpr size_t kDstCid = 8;
constexpr size_t kSrcPort = 16;
constexpr size_t kDstPort = 20;
constexpr size_t kLen = 24;
constexpr size_t kType = 28;
constexpr size_t kOp = 30;
constexpr size_t kFlags = 32;
constexpr size_t kBufAlloc = 36;
constexpr size_t kFwdCnt = 40;

}  // namespace

std::array<uint8_t, kVsockHeaderSize> encode_vsock_header(const VsockHeader& h) noexcept {
  std::array<uint8_t, kVsockHeaderSize> out{};
  put(out, kSrcCid, h.src_cid);
  put(out, kDstCid, h.dst_cid);
  put(out, kSrcPort, h.src_port);
  put(out, kDstPort, h.dst_port);
  put(out, kLen, h.len);
  put(out, kType, h.type);
  put(out, kOp, h.op);
  put(out, kFlags, h.flags);
  put(out, kBufAlloc, h.buf_alloc);
  put(out, kFwdCnt, h.fwd_cnt);
  return out;
}

VsockHeader decode_vsock_header(std::span<const uint8_t, kVsockHeaderSize> in) noexcept {
  VsockHeader h;
  h.src_cid = get<uint64_t>(in, kSrcCid);
  h.dst_cid = get<uint64_t>(in, kDstCid);
  h.src_port = get<uint32_t>(in, kSrcPort);
  h.dst_port = get<uint32_t>(in, kDstPort);
  h.len = get<uint32_t>(in, kLen);
  h.type = get<uint16_t>(in, kType);
  h.op = get<uint16_t>(in, kOp);
  h.flags = get<uint32_t>(in, kFlags);
  h.buf_alloc = get<uint32_t>(in, kBufAlloc);
  h.fwd_cnt = get<uint32_t>(in, kFwdCnt);
  return h;
}

const char* to_string(VsockPacketProblem problem) noexcept {
  switch (problem) {
    case VsockPacketProblem::kNone:
      return "no problem";
    case VsockPacketProblem::kWrongSrcCid:
      return "source CID is not the guest's";
    case VsockPacketProblem::kWrongDstCid:
      return "destination CID is not the host's";
    case VsockPacketProblem::kUnknownType:
      return "socket type is not stream";
    case VsockPacketProblem::kUnknownOp:
      return "unknown operation";
    case VsockPacketProblem::kLenBeyondBuffer:
      return "payload length beyond the buffer";
  }
  return "unknown problem";
}

VsockPacketProblem check_guest_packet(const VsockHeader& h, uint64_t guest_cid,
                                      uint64_t payload_available) noexcept {
  if (h.src_cid != guest_cid) return VsockPacketProblem::kWrongSrcCid;
  if (h.dst_cid != kVsockHostCid) return VsockPacketProblem::kWrongDstCid;
  if (h.type != kVsockTypeStream) return VsockPacketProblem::kUnknownType;
  if (h.op == static_cast<uint16_t>(VsockOp::kInvalid) ||
      h.op > static_cast<uint16_t>(VsockOp::kCreditRequest)) {
    return VsockPacketProblem::kUnknownOp;
  }
  if (h.len > payload_available) return VsockPacketProblem::kLenBeyondBuffer;
  return VsockPacketProblem::kNone;
}

}  // namespace vmm::virtio
