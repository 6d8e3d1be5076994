#include <gtest/gtest.h>

#include "vmm/virtio/vsock_packet.hpp"

namespace vmm::virtio {
namespace {

VsockHeader sample() {
  VsockHeader h;
  h.src_cid = 3;
  h.dst_cid = kVsockHostCid;
  h.src_port = 0x11223344;
  h.dst_port = 1024;
  h.len = 5;
  h.type = kVsockTypeStream;
  h.op = static_cast<uint16_t>(VsockOp::kRw);
  h.flags = 0;
  h.buf_alloc = 262144;
  h.fwd_cnt = 0xdeadbeef;
  return h;
}

TEST(VsockPacket, HeaderLayoutIsLittleEndianAt44Bytes) {
  const auto raw = encode_vsock_header(sample());
  static_assert(raw.size() == 44);
  EXPECT_EQ(raw[0], 3);      // src_cid
  EXPECT_EQ(raw[8], 2);      // dst_cid
  EXPECT_EQ(raw[16], 0x44);  // src_port, low byte first
  EXPECT_EQ(raw[19], 0x11);
  EXPECT_EQ(raw[20] | raw[21] << 8, 1024);  // dst_port
  EXPECT_EQ(raw[24], 5);                    // len
  EXPECT_EQ(raw[28], 1);                    // type
  EXPECT_EQ(raw[30], 5);                    // op
  EXPECT_EQ(raw[38], 4);                    // buf_alloc 0x40000
  EXPECT_EQ(raw[40], 0xef);                 // fwd_cnt
  EXPECT_EQ(raw[43], 0xde);
  EXPECT_EQ(decode_vsock_header(raw), sample());
}

TEST(VsockPacket, ChecksRunInOrder) {
  EXPECT_EQ(check_guest_packet(sample(), 3, 5), VsockPacketProblem::kNone);
  VsockHeader h = sample();
  h.src_cid = 4;
  EXPECT_EQ(check_guest_packet(h, 3, 5), VsockPacketProblem::kWrongSrcCid);
  h = sample();
  h.src_cid = 3 | (1ULL << 32);  // the upper CID bits are not ignored
  EXPECT_EQ(check_guest_packet(h, 3, 5), VsockPacketProblem::kWrongSrcCid);
  h = sample();
  h.dst_cid = 1;
  EXPECT_EQ(check_guest_packet(h, 3, 5), VsockPacketProblem::kWrongDstCid);
  h = sample();
  h.type = 2;  // SEQPACKET: not offered
  EXPECT_EQ(check_guest_packet(h, 3, 5), VsockPacketProblem::kUnknownType);
  for (const int op : {0, 8, 0xffff}) {
    h = sample();
    h.op = static_cast<uint16_t>(op);
    EXPECT_EQ(check_guest_packet(h, 3, 5), VsockPacketProblem::kUnknownOp) << op;
  }
  h = sample();
  EXPECT_EQ(check_guest_packet(h, 3, 4), VsockPacketProblem::kLenBeyondBuffer);
  h.len = 0xffffffff;
  EXPECT_EQ(check_guest_packet(h, 3, 1ULL << 32), VsockPacketProblem::kNone);
  EXPECT_EQ(check_guest_packet(h, 3, 0xfffffffe), VsockPacketProblem::kLenBeyondBuffer);
}

TEST(VsockPacket, ProblemsHaveNames) {
  EXPECT_STREQ(to_string(VsockPacketProblem::kWrongDstCid), "destination CID is not the host's");
}

}  // namespace
}  // namespace vmm::virtio
