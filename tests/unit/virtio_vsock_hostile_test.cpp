// virtio-vsock against a hostile guest: every bad packet ends in an RST or a drop with its
// counter, a healthy connection beside it keeps working, floods stay bounded, and a malformed
// descriptor chain sets DEVICE_NEEDS_RESET.
#include <gtest/gtest.h>

#include "support/vsock_fake_guest.hpp"

namespace vmm::virtio {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::FakeVsockGuest;
using testing::kGuestCid;

class VsockHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    g_.start();
    healthy_ = g_.host_connection(1000);
  }
  // The healthy connection still carries data both ways and nothing needs a reset.
  void TearDown() override {
    if (HasFatalFailure() || device_was_reset_) return;
    g_.expect_alive(healthy_, "healthy");
    EXPECT_FALSE(g_.irq().needs_reset.load());
  }
  // Sends `h` (payload as given) and expects exactly an RST for it.
  void expect_rst_for(VsockHeader h, const std::string& payload = {}, bool keep_len = false) {
    g_.send(h, payload, keep_len);
    auto p = g_.recv();
    ASSERT_TRUE(p) << "no answer";
    EXPECT_EQ(p->op(), VsockOp::kRst);
    EXPECT_EQ(p->hdr.src_port, h.dst_port);
    EXPECT_EQ(p->hdr.dst_port, h.src_port);
    EXPECT_EQ(p->hdr.dst_cid, kGuestCid);
  }
  // Gives the device no receive buffers: RSTs for packets of no connection use them up.
  void use_up_rx_buffers() {
    for (uint32_t port = 60000;; ++port) {
      g_.send(FakeVsockGuest::header(VsockOp::kRw, port, 60000), "x");
      if (!g_.recv(200ms, /*repost=*/false)) return;  // this one's RST stays queued
    }
  }
  FakeVsockGuest g_;
  FakeVsockGuest::Established healthy_;
  bool device_was_reset_ = false;
};

TEST_F(VsockHostile, WrongSourceCidIsDropped) {
  auto h = FakeVsockGuest::header(VsockOp::kRequest, 1, 2000);
  h.src_cid = 7;
  g_.send(h);
  EXPECT_TRUE(g_.silent());
  EXPECT_EQ(g_.counter("bad_src_cid"), 1u);
  // Even for the healthy connection's ports: the connection is not touched.
  h = FakeVsockGuest::header(VsockOp::kRst, healthy_.guest_port, healthy_.host_port);
  h.src_cid = 7;
  g_.send(h);
  EXPECT_EQ(g_.counter("bad_src_cid"), 2u);
}

TEST_F(VsockHostile, WrongDestinationCidIsDropped) {
  auto h = FakeVsockGuest::header(VsockOp::kRequest, 1, 2000);
  h.dst_cid = 5;  // another guest: vmm routes nothing but the host
  g_.send(h);
  EXPECT_TRUE(g_.silent());
  EXPECT_EQ(g_.counter("bad_dst_cid"), 1u);
}

TEST_F(VsockHostile, UnknownTypeIsReset) {
  auto h = FakeVsockGuest::header(VsockOp::kRequest, 1, 2000);
  h.type = 2;  // SEQPACKET was not offered
  expect_rst_for(h);
  EXPECT_EQ(g_.counter("bad_type"), 1u);
}

TEST_F(VsockHostile, UnknownOpIsResetAndEndsItsConnection) {
  auto c = g_.host_connection(1001);
  auto h = FakeVsockGuest::header(VsockOp::kRw, c.guest_port, c.host_port);
  h.op = 42;
  expect_rst_for(h);
  h.op = 0;  // VIRTIO_VSOCK_OP_INVALID, for a connection that no longer exists
  expect_rst_for(h);
  EXPECT_EQ(g_.counter("bad_op"), 2u);
  EXPECT_TRUE(FakeVsockGuest::closed_within(c.host));
}

TEST_F(VsockHostile, LenBeyondTheBufferIsReset) {
  auto c = g_.host_connection(1002);
  auto h = FakeVsockGuest::header(VsockOp::kRw, c.guest_port, c.host_port);
  h.len = 5000;
  expect_rst_for(h, "only-this", /*keep_len=*/true);
  EXPECT_EQ(g_.counter("bad_len"), 1u);
  EXPECT_TRUE(FakeVsockGuest::closed_within(c.host));
  EXPECT_EQ(FakeVsockGuest::read_n(c.host, 1, 50), "") << "no byte of it reached the host";
}

TEST_F(VsockHostile, ChainShorterThanTheHeaderIsDropped) {
  g_.send_raw({{0x300000, 20, false}});
  g_.send_raw({{0x300000, 0, false}});
  EXPECT_TRUE(g_.silent());
  EXPECT_EQ(g_.counter("short_packets"), 2u);
}

TEST_F(VsockHostile, HeaderSplitAcrossBuffersIsAccepted) {
  // Not hostile, but unusual: 10 + 34 header bytes, then the payload in two more buffers.
  auto h = FakeVsockGuest::header(VsockOp::kRw, healthy_.guest_port, healthy_.host_port);
  h.len = 6;
  const auto raw = encode_vsock_header(h);
  ASSERT_TRUE(g_.memory().write(GuestAddress(0x300000), raw));
  const std::string text = "split!";
  ASSERT_TRUE(g_.memory().write(GuestAddress(0x301000),
                                std::span(reinterpret_cast<const uint8_t*>(text.data()), 6)));
  g_.send_raw(
      {{0x300000, 10, false}, {0x30000a, 34, false}, {0x301000, 2, false}, {0x301002, 4, false}});
  EXPECT_EQ(FakeVsockGuest::read_n(healthy_.host, 6), "split!");
}

TEST_F(VsockHostile, PacketsForUnknownConnectionsAreReset) {
  expect_rst_for(FakeVsockGuest::header(VsockOp::kRw, 9, 9999), "data");
  expect_rst_for(FakeVsockGuest::header(VsockOp::kResponse, 9, 9999));
  expect_rst_for(FakeVsockGuest::header(VsockOp::kShutdown, 9, 9999));
  expect_rst_for(FakeVsockGuest::header(VsockOp::kCreditUpdate, 9, 9999));
  EXPECT_EQ(g_.counter("unknown_connection"), 4u);
  // An RST for nothing is not answered.
  g_.send(FakeVsockGuest::header(VsockOp::kRst, 9, 9999));
  EXPECT_TRUE(g_.silent());
}

TEST_F(VsockHostile, OpsTheStateDoesNotAllowResetTheConnection) {
  // A second REQUEST for a live connection.
  auto c = g_.host_connection(1003);
  expect_rst_for(FakeVsockGuest::header(VsockOp::kRequest, c.guest_port, c.host_port));
  EXPECT_TRUE(FakeVsockGuest::closed_within(c.host));
  // Data before the guest answered our REQUEST.
  auto [host, req] = g_.host_connect(1004);
  expect_rst_for(FakeVsockGuest::header(VsockOp::kRw, 1004, req.hdr.src_port), "early");
  EXPECT_TRUE(FakeVsockGuest::closed_within(host));
  EXPECT_EQ(FakeVsockGuest::read_n(host, 1, 50), "") << "no OK, no data";
  // Data after the guest said it sends no more.
  auto d = g_.host_connection(1005);
  auto sd = FakeVsockGuest::header(VsockOp::kShutdown, d.guest_port, d.host_port);
  sd.flags = kVsockShutdownSend;
  g_.send(sd);
  expect_rst_for(FakeVsockGuest::header(VsockOp::kRw, d.guest_port, d.host_port), "zombie");
  EXPECT_EQ(g_.counter("unexpected_packets"), 3u);
}

TEST_F(VsockHostile, ConnectionCapRefusesBothDirections) {
  // The healthy one is connection 1 of 8.
  UniqueFd listener = FakeVsockGuest::unix_listen(g_.port_path(3000));
  std::vector<FakeVsockGuest::Established> conns;
  for (uint32_t i = 0; i < 7; ++i) conns.push_back(g_.guest_connection(listener, 100 + i, 3000));
  EXPECT_EQ(g_.device().connection_count(), 8u);
  expect_rst_for(FakeVsockGuest::header(VsockOp::kRequest, 200, 3000));
  EXPECT_EQ(g_.counter("connection_limit"), 1u);
  UniqueFd host = FakeVsockGuest::unix_connect(g_.path());
  // The device may close it before the line is even written: EPIPE is fine here.
  const std::string line = "CONNECT 5\n";
  (void)::send(host.get(), line.data(), line.size(), MSG_NOSIGNAL);
  EXPECT_TRUE(FakeVsockGuest::closed_within(host));
  EXPECT_EQ(g_.counter("connection_limit"), 2u);
  // Closing one makes room again.
  g_.send(FakeVsockGuest::header(VsockOp::kRst, conns.back().guest_port, 3000));
  EXPECT_TRUE(eventually([&] { return g_.device().connection_count() == 7; }));
  conns.push_back(g_.guest_connection(listener, 300, 3000));
  g_.expect_alive(conns.back(), "room");
}

TEST_F(VsockHostile, BadConnectCommandsCloseTheHostStream) {
  for (const std::string line : {"HELLO 5\n", "CONNECT\n", "CONNECT abc\n", "CONNECT -1\n",
                                 "CONNECT 99999999999\n", "CONNECT 5 6\n"}) {
    UniqueFd host = FakeVsockGuest::unix_connect(g_.path());
    FakeVsockGuest::write_all(host, line);
    EXPECT_TRUE(FakeVsockGuest::closed_within(host)) << line;
  }
  // Overlong: 40 bytes and no newline.
  UniqueFd host = FakeVsockGuest::unix_connect(g_.path());
  FakeVsockGuest::write_all(host, std::string(40, '7'));
  EXPECT_TRUE(FakeVsockGuest::closed_within(host));
  // Silent: the command timeout.
  UniqueFd mute = FakeVsockGuest::unix_connect(g_.path());
  EXPECT_TRUE(FakeVsockGuest::closed_within(mute, 2000));
  EXPECT_EQ(g_.counter("bad_connect_commands"), 8u);
  EXPECT_TRUE(g_.silent()) << "the guest heard of none of them";
}

TEST_F(VsockHostile, SlowConnectCommandStillWorks) {
  UniqueFd host = FakeVsockGuest::unix_connect(g_.path());
  for (const char* piece : {"CON", "NECT ", "42", "\n"}) {
    FakeVsockGuest::write_all(host, piece);
    std::this_thread::sleep_for(20ms);
  }
  auto req = g_.recv_op(VsockOp::kRequest);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->hdr.dst_port, 42u);
}

// Packets for nothing while the guest posts no receive buffers: the RSTs owed are capped, the
// rest dropped and counted; then the guest gets at most the cap, and a healthy connection
// still gets its turn among them.
TEST_F(VsockHostile, RstFloodIsBounded) {
  use_up_rx_buffers();
  const uint64_t before = g_.counter("unknown_connection");
  for (uint32_t i = 0; i < 100; ++i) {
    g_.send(FakeVsockGuest::header(VsockOp::kRw, 10000 + i, 20000), "x");
  }
  const uint64_t cap = testing::test_limits().max_queued_rsts;
  EXPECT_EQ(g_.counter("unknown_connection"), before + 100);
  EXPECT_EQ(g_.counter("rst_queue_drops"), 100u - (cap - 1)) << "one RST was queued already";
  FakeVsockGuest::write_all(healthy_.host, "meanwhile");
  g_.post_rx(16);
  uint64_t rsts = 0;
  bool data = false;
  while (auto p = g_.recv(200ms)) {
    if (p->op() == VsockOp::kRst) {
      ++rsts;
    } else if (p->op() == VsockOp::kRw) {
      EXPECT_EQ(p->data, "meanwhile");
      EXPECT_LT(rsts, cap) << "the healthy connection waited behind every RST";
      data = true;
    }
  }
  EXPECT_EQ(rsts, cap);
  EXPECT_TRUE(data);
}

// A guest REQUEST storm at a listener: connections up to the cap, RSTs beyond, nothing else.
TEST_F(VsockHostile, RequestFloodStopsAtTheCap) {
  UniqueFd listener = FakeVsockGuest::unix_listen(g_.port_path(4000));
  uint32_t responses = 0;
  uint32_t rsts = 0;
  for (uint32_t i = 0; i < 40; ++i) {
    g_.send(FakeVsockGuest::header(VsockOp::kRequest, 500 + i, 4000));
    auto p = g_.recv();
    ASSERT_TRUE(p);
    (p->op() == VsockOp::kResponse ? responses : rsts)++;
  }
  EXPECT_EQ(responses, 7u);
  EXPECT_EQ(rsts, 33u);
  EXPECT_EQ(g_.device().connection_count(), 8u);
}

TEST_F(VsockHostile, ReceiveBufferTooShortIsReturnedUnused) {
  use_up_rx_buffers();
  // 44 writable bytes hold a header but no data: returned empty, and the next one is used.
  g_.rx_ring().add_chain({{0x300000, static_cast<uint32_t>(kVsockHeaderSize), true}});
  g_.kick(0);
  const auto used = g_.recv_used();
  ASSERT_TRUE(used);
  EXPECT_EQ(used->len, 0u);
  EXPECT_EQ(g_.counter("short_rx_buffers"), 1u);
  g_.post_rx(16);
  auto rst = g_.recv();  // the RST left queued when the buffers ran out
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->op(), VsockOp::kRst);
}

TEST_F(VsockHostile, LoopingTransmitChainNeedsReset) {
  g_.tx_ring().set_desc(5, 0x300000, 44, kDescFlagNext, 5);  // points at itself
  g_.tx_ring().publish(5);
  g_.kick(1);
  EXPECT_TRUE(eventually([&] { return g_.irq().needs_reset.load(); }));
  // The device stopped serving the queue; the host side is intact until the driver resets.
  g_.device().reset();
  device_was_reset_ = true;
  EXPECT_TRUE(FakeVsockGuest::closed_within(healthy_.host));
}

}  // namespace
}  // namespace vmm::virtio
