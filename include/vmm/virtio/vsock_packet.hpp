#pragma once
// The virtio-vsock packet header (virtio 1.2, 5.10.6) and the checks every packet the guest
// transmits must pass before it reaches a connection. All fields are little-endian on the
// wire; VsockHeader holds them in host order.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace vmm::virtio {

// struct virtio_vsock_hdr: le64 src_cid, le64 dst_cid, le32 src_port, le32 dst_port, le32 len,
// le16 type, le16 op, le32 flags, le32 buf_alloc, le32 fwd_cnt.
inline constexpr size_t kVsockHeaderSize = 44;
inline constexpr uint64_t kVsockHostCid = 2;
// 5.10.6: stream sockets; SEQPACKET (2) is not offered, so a guest never sends it legitimately.
inline constexpr uint16_t kVsockTypeStream = 1;
// VIRTIO_VSOCK_OP_SHUTDOWN flags: the sender will receive / send no more data.
inline constexpr uint32_t kVsockShutdownRcv = 1;
inline constexpr uint32_t kVsockShutdownSend = 2;
inline constexpr uint32_t kVsockShutdownBoth = kVsockShutdownRcv | kVsockShutdownSend;

enum class VsockOp : uint16_t {
  kInvalid = 0,
  kRequest = 1,
  kResponse = 2,
  kRst = 3,
  kShutdown = 4,
  kRw = 5,
  kCreditUpdate = 6,
  kCreditRequest = 7,
};

struct VsockHeader {
  uint64_t src_cid = 0;
  uint64_t dst_cid = 0;
  uint32_t src_port = 0;
  uint32_t dst_port = 0;
  uint32_t len = 0;
  uint16_t type = 0;
  uint16_t op = 0;
  uint32_t flags = 0;
  uint32_t buf_alloc = 0;
  uint32_t fwd_cnt = 0;

  [[nodiscard]] VsockOp vsock_op() const noexcept { return static_cast<VsockOp>(op); }
  friend bool operator==(const VsockHeader&, const VsockHeader&) = default;
};

[[nodiscard]] std::array<uint8_t, kVsockHeaderSize> encode_vsock_header(
    const VsockHeader& header) noexcept;
[[nodiscard]] VsockHeader decode_vsock_header(
    std::span<const uint8_t, kVsockHeaderSize> bytes) noexcept;

// Why a guest packet is refused, in the order the checks run.
enum class VsockPacketProblem : uint8_t {
  kNone,
  kWrongSrcCid,      // src_cid is not the guest's CID: dropped (no one to answer)
  kWrongDstCid,      // dst_cid is not the host (2): dropped (vmm routes nothing else)
  kUnknownType,      // not a stream packet: answered with RST
  kUnknownOp,        // op 0 or beyond CREDIT_REQUEST: answered with RST
  kLenBeyondBuffer,  // len is more than the chain carries after the header: answered with RST
};

[[nodiscard]] const char* to_string(VsockPacketProblem problem) noexcept;

// Checks a header from the guest's transmit queue; `payload_available` is how many readable
// bytes its chain carries after the header.
[[nodiscard]] VsockPacketProblem check_guest_packet(const VsockHeader& header, uint64_t guest_cid,
                                                    uint64_t payload_available) noexcept;

}  // namespace vmm::virtio
