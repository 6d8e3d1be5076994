// virtio-vsock against a fake guest driver and real host Unix sockets: the handshakes both
// ways (Firecracker's CONNECT/OK convention), data both ways within the credit each side
// advertises, credit updates, half-closes and the close timeout, device reset, and the socket
// file's life.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fstream>
#include <numeric>
#include <random>

#include "support/vsock_fake_guest.hpp"
#include "vmm/common/error.hpp"

namespace vmm::virtio {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::FakeVsockGuest;
using testing::kGuestCid;
using testing::Packet;

std::string pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(VsockDevice, IdentityFeaturesAndConfigSpace) {
  FakeVsockGuest g;
  EXPECT_EQ(static_cast<uint32_t>(g.device().device_type()), 19u);
  EXPECT_EQ(g.device().queue_max_sizes().size(), 3u);
  const uint64_t f = g.device().features();
  EXPECT_NE(f & feature_bit(kFeatureVersion1), 0u);
  EXPECT_EQ(f & 0xffffffULL, 0u) << "no device-specific feature (SEQPACKET is bit 1)";
  std::array<uint8_t, 8> cfg{};
  g.device().read_config(0, cfg);
  EXPECT_EQ(cfg, (std::array<uint8_t, 8>{3, 0, 0, 0, 0, 0, 0, 0}));
  std::array<uint8_t, 4> high{};
  g.device().read_config(4, high);  // the upper half reads as zero
  EXPECT_EQ(high, (std::array<uint8_t, 4>{}));
  const std::array<uint8_t, 8> junk{9, 9, 9, 9, 9, 9, 9, 9};
  g.device().write_config(0, junk);  // read-only
  g.device().read_config(0, cfg);
  EXPECT_EQ(cfg[0], 3);
  EXPECT_TRUE(g.device().socket_path().is_absolute());
}

TEST(VsockDevice, HostInitiatedHandshakeAndDataBothWays) {
  FakeVsockGuest g;
  g.start();
  auto [host, req] = g.host_connect(1234);
  EXPECT_EQ(req.hdr.src_cid, kVsockHostCid);
  EXPECT_EQ(req.hdr.dst_cid, kGuestCid);
  EXPECT_EQ(req.hdr.dst_port, 1234u);
  EXPECT_GE(req.hdr.src_port, 1u << 30) << "host ports come from [2^30, 2^31)";
  EXPECT_LT(req.hdr.src_port, 1u << 31);
  EXPECT_EQ(req.hdr.type, kVsockTypeStream);
  EXPECT_EQ(req.hdr.buf_alloc, testing::test_limits().buf_alloc);
  EXPECT_EQ(req.hdr.len, 0u);
  // Nothing reaches the host before the guest accepts.
  EXPECT_FALSE(FakeVsockGuest::readable_within(host, 50));
  g.send(FakeVsockGuest::header(VsockOp::kResponse, 1234, req.hdr.src_port));
  const std::string ok = "OK " + std::to_string(req.hdr.src_port) + "\n";
  EXPECT_EQ(FakeVsockGuest::read_n(host, ok.size()), ok);
  const FakeVsockGuest::Established c{std::move(host), 1234, req.hdr.src_port};
  g.expect_alive(c, "a");
  g.expect_alive(c, "b");
  EXPECT_EQ(g.counter("host_connections"), 1u);
  EXPECT_EQ(g.device().connection_count(), 1u);
}

TEST(VsockDevice, HostInitiatedRefusedByTheGuestClosesWithoutOk) {
  FakeVsockGuest g;
  g.start();
  auto [host, req] = g.host_connect(52);
  g.send(FakeVsockGuest::header(VsockOp::kRst, 52, req.hdr.src_port));
  EXPECT_TRUE(FakeVsockGuest::closed_within(host));
  EXPECT_EQ(FakeVsockGuest::read_n(host, 1, 50), "");
  EXPECT_TRUE(eventually([&] { return g.device().connection_count() == 0; }));
}

TEST(VsockDevice, ConnectCommandIsCaseInsensitiveAndMayCarryDataBehindIt) {
  FakeVsockGuest g;
  g.start();
  UniqueFd host = FakeVsockGuest::unix_connect(g.path());
  // The line and the first bytes of the stream in one write: the bytes stay for the guest.
  FakeVsockGuest::write_all(host, "connect 77\nearly");
  auto req = g.recv_op(VsockOp::kRequest);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->hdr.dst_port, 77u);
  g.send(FakeVsockGuest::header(VsockOp::kResponse, 77, req->hdr.src_port));
  EXPECT_EQ(FakeVsockGuest::read_n(host, 3 + std::to_string(req->hdr.src_port).size() + 1),
            "OK " + std::to_string(req->hdr.src_port) + "\n");
  auto rw = g.recv_op(VsockOp::kRw);
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->data, "early");
}

TEST(VsockDevice, GuestInitiatedReachesTheListenerAtPathPort) {
  FakeVsockGuest g;
  g.start();
  UniqueFd listener = FakeVsockGuest::unix_listen(g.port_path(1024));
  ASSERT_TRUE(listener);
  g.send(FakeVsockGuest::header(VsockOp::kRequest, 5555, 1024));
  auto resp = g.recv_op(VsockOp::kResponse);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->hdr.src_cid, kVsockHostCid);
  EXPECT_EQ(resp->hdr.dst_cid, kGuestCid);
  EXPECT_EQ(resp->hdr.src_port, 1024u);
  EXPECT_EQ(resp->hdr.dst_port, 5555u);
  UniqueFd host = FakeVsockGuest::accept_within(listener);
  ASSERT_TRUE(host);
  const FakeVsockGuest::Established c{std::move(host), 5555, 1024};
  g.expect_alive(c, "guest");
  EXPECT_EQ(g.counter("guest_connections"), 1u);
}

TEST(VsockDevice, GuestConnectToNobodyIsReset) {
  FakeVsockGuest g;
  g.start();
  g.send(FakeVsockGuest::header(VsockOp::kRequest, 5555, 4321));
  auto rst = g.recv();
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->op(), VsockOp::kRst);
  EXPECT_EQ(rst->hdr.src_port, 4321u);
  EXPECT_EQ(rst->hdr.dst_port, 5555u);
  EXPECT_EQ(g.counter("guest_connect_failures"), 1u);
  EXPECT_EQ(g.device().connection_count(), 0u);
}

// Host -> guest: never more than the guest's buf_alloc in flight; a CREDIT_REQUEST when it runs
// out, and the rest once the guest's fwd_cnt moves.
TEST(VsockDevice, HostToGuestDataRespectsTheGuestCredit) {
  FakeVsockGuest g;
  g.start();
  constexpr uint32_t kCredit = 10000;
  auto c = g.host_connection(80, kCredit);
  const std::string data = pattern(25000, 1);
  FakeVsockGuest::write_all(c.host, data);
  std::string got;
  bool asked = false;
  uint32_t fwd = 0;
  while (got.size() < data.size()) {
    auto p = g.recv(1000ms);
    ASSERT_TRUE(p) << "stalled after " << got.size() << " bytes";
    if (p->op() == VsockOp::kRw) {
      got += p->data;
      ASSERT_LE(got.size() - fwd, kCredit) << "more in flight than the guest's credit";
    } else if (p->op() == VsockOp::kCreditRequest) {
      EXPECT_EQ(got.size() - fwd, kCredit) << "asked for credit before it ran out";
      asked = true;
      // The guest's application read everything: tell the device.
      fwd = static_cast<uint32_t>(got.size());
      g.send(FakeVsockGuest::header(VsockOp::kCreditUpdate, 80, c.host_port, kCredit, fwd));
    } else {
      FAIL() << "unexpected op " << p->hdr.op;
    }
  }
  EXPECT_TRUE(asked);
  EXPECT_EQ(got, data);
  EXPECT_EQ(g.counter("rx_bytes"), data.size());
}

// Guest -> host: while the host does not read, the device takes what the host socket takes plus
// at most its buf_alloc, and the guest's credit (buf_alloc - (sent - fwd_cnt)) runs out exactly
// there; when the host drains, CREDIT_UPDATEs carry the new fwd_cnt and all bytes arrive.
TEST(VsockDevice, GuestToHostStopsAtTheCreditWhileTheHostDoesNotRead) {
  FakeVsockGuest g;
  g.start();
  const uint32_t buf_alloc = testing::test_limits().buf_alloc;
  auto c = g.host_connection(81);
  const std::string chunk = pattern(4096, 2);
  uint64_t sent = 0;
  uint32_t fwd = 0;  // the device's fwd_cnt as the guest last heard it
  for (;;) {
    if (sent + chunk.size() - fwd <= buf_alloc) {
      g.send(FakeVsockGuest::header(VsockOp::kRw, 81, c.host_port), chunk);
      sent += chunk.size();
      continue;
    }
    auto p = g.recv(300ms);
    if (!p) break;  // no more credit coming: the device holds a full buffer
    EXPECT_EQ(p->op(), VsockOp::kCreditUpdate);
    fwd = p->hdr.fwd_cnt;
  }
  EXPECT_EQ(sent - fwd, buf_alloc) << "the guest stopped before its credit ran out";
  EXPECT_GT(sent, buf_alloc) << "the host socket took nothing?";
  EXPECT_EQ(g.counter("credit_violations"), 0u);
  std::string expect;
  for (uint64_t i = 0; i < sent / chunk.size(); ++i) expect += chunk;
  std::string got;
  std::thread reader([&] { got = FakeVsockGuest::read_n(c.host, sent, 5000); });
  while (fwd < sent) {
    auto p = g.recv(2000ms);
    ASSERT_TRUE(p) << "no credit update after the host drained (fwd_cnt " << fwd << ")";
    EXPECT_EQ(p->op(), VsockOp::kCreditUpdate);
    EXPECT_EQ(p->hdr.buf_alloc, buf_alloc);
    fwd = p->hdr.fwd_cnt;
  }
  reader.join();
  EXPECT_TRUE(got == expect) << "the host received other bytes than the guest sent";
}

TEST(VsockDevice, GuestBeyondItsCreditIsResetAndOthersCarryOn) {
  FakeVsockGuest g;
  g.start();
  const uint32_t buf_alloc = testing::test_limits().buf_alloc;
  auto healthy = g.host_connection(80);
  auto c = g.host_connection(81);
  g.send(FakeVsockGuest::header(VsockOp::kRw, 81, c.host_port), pattern(buf_alloc + 1, 3));
  auto rst = g.recv_op(VsockOp::kRst);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->hdr.dst_port, 81u);
  EXPECT_EQ(g.counter("credit_violations"), 1u);
  EXPECT_EQ(g.counter("connections_reset"), 1u);
  EXPECT_TRUE(FakeVsockGuest::closed_within(c.host));
  EXPECT_EQ(FakeVsockGuest::read_n(c.host, 1, 50), "") << "no byte of the refused packet";
  g.expect_alive(healthy, "after-violation");
}

TEST(VsockDevice, CreditRequestIsAnsweredWithAnUpdate) {
  FakeVsockGuest g;
  g.start();
  auto c = g.host_connection(82);
  g.send(FakeVsockGuest::header(VsockOp::kRw, 82, c.host_port), "hello");
  EXPECT_EQ(FakeVsockGuest::read_n(c.host, 5), "hello");
  g.send(FakeVsockGuest::header(VsockOp::kCreditRequest, 82, c.host_port));
  auto update = g.recv_op(VsockOp::kCreditUpdate);
  ASSERT_TRUE(update);
  EXPECT_EQ(update->hdr.fwd_cnt, 5u);
  EXPECT_EQ(update->hdr.dst_port, 82u);
}

// Megabytes through an echo in the guest: both directions at once, each side within the
// credit the other advertised, intact.
TEST(VsockDevice, BulkEchoStaysWithinCreditBothWays) {
  FakeVsockGuest g;
  g.start();
  constexpr uint32_t kGuestBuf = 64 * 1024;
  const uint32_t dev_buf = testing::test_limits().buf_alloc;
  auto c = g.host_connection(90, kGuestBuf);
  const std::string data = pattern(2 << 20, 4);
  std::thread writer([&] {
    FakeVsockGuest::write_all(c.host, data);
    ::shutdown(c.host.get(), SHUT_WR);
  });
  std::string echoed;
  std::thread reader([&] { echoed = FakeVsockGuest::read_n(c.host, data.size(), 60000); });
  uint64_t received = 0;   // host -> guest bytes, all "read" by the guest's application
  uint32_t credited = 0;   // the fwd_cnt the guest last told the device
  uint64_t echo_sent = 0;  // guest -> host bytes
  uint32_t dev_fwd = 0;    // the device's fwd_cnt as the guest last heard it
  std::string backlog;     // received, not yet echoed
  bool eof = false;
  while (!eof || !backlog.empty()) {
    // Echo what the device's credit allows.
    while (!backlog.empty() && echo_sent + 1 - dev_fwd <= dev_buf) {
      const size_t n = std::min<size_t>({backlog.size(), 4096, dev_buf - (echo_sent - dev_fwd)});
      credited = static_cast<uint32_t>(received);
      g.send(FakeVsockGuest::header(VsockOp::kRw, 90, c.host_port, kGuestBuf, credited),
             backlog.substr(0, n));
      backlog.erase(0, n);
      echo_sent += n;
    }
    if (eof && backlog.empty()) break;
    auto p = g.recv(5000ms);
    ASSERT_TRUE(p) << "stalled: received " << received << ", echoed " << echo_sent;
    dev_fwd = p->hdr.fwd_cnt;
    if (p->op() == VsockOp::kRw) {
      received += p->data.size();
      ASSERT_LE(received - credited, kGuestBuf) << "beyond the guest's credit";
      backlog += p->data;
      if (received - credited >= kGuestBuf / 2) {
        credited = static_cast<uint32_t>(received);
        g.send(
            FakeVsockGuest::header(VsockOp::kCreditUpdate, 90, c.host_port, kGuestBuf, credited));
      }
    } else if (p->op() == VsockOp::kCreditRequest) {
      credited = static_cast<uint32_t>(received);
      g.send(FakeVsockGuest::header(VsockOp::kCreditUpdate, 90, c.host_port, kGuestBuf, credited));
    } else if (p->op() == VsockOp::kShutdown) {
      EXPECT_EQ(p->hdr.flags, kVsockShutdownSend) << "a half-close, not a full one";
      eof = true;
    } else {
      ASSERT_EQ(p->op(), VsockOp::kCreditUpdate);
    }
  }
  writer.join();
  EXPECT_EQ(received, data.size());
  // The guest finishes its side; the connection ends and the host reads the echo to its end.
  auto sd = FakeVsockGuest::header(VsockOp::kShutdown, 90, c.host_port, kGuestBuf, credited);
  sd.flags = kVsockShutdownBoth;
  g.send(sd);
  reader.join();
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data) << "the echo differs";
  EXPECT_EQ(g.counter("credit_violations"), 0u);
  EXPECT_TRUE(g.recv_op(VsockOp::kRst).has_value());
}

TEST(VsockDevice, HostHalfCloseBecomesShutdownSendAndDataStillFlowsBack) {
  FakeVsockGuest g;
  g.start();
  auto c = g.host_connection(83);
  FakeVsockGuest::write_all(c.host, "request");
  ASSERT_EQ(::shutdown(c.host.get(), SHUT_WR), 0);
  std::vector<Packet> before;
  auto sd = g.recv_op(VsockOp::kShutdown, &before);
  ASSERT_TRUE(sd);
  EXPECT_EQ(sd->hdr.flags, kVsockShutdownSend);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].data, "request");
  g.send(FakeVsockGuest::header(VsockOp::kRw, 83, c.host_port), "reply");
  EXPECT_EQ(FakeVsockGuest::read_n(c.host, 5), "reply");
  // The guest is done too: no byte can move any more, so the connection ends with an RST.
  auto sd_send = FakeVsockGuest::header(VsockOp::kShutdown, 83, c.host_port);
  sd_send.flags = kVsockShutdownSend;
  g.send(sd_send);
  auto rst = g.recv_op(VsockOp::kRst);
  ASSERT_TRUE(rst);
  EXPECT_TRUE(FakeVsockGuest::closed_within(c.host));
  EXPECT_TRUE(eventually([&] { return g.device().connection_count() == 0; }));
}

TEST(VsockDevice, GuestShutdownSendBecomesEofWhileTheHostStillWrites) {
  FakeVsockGuest g;
  g.start();
  auto c = g.host_connection(84);
  g.send(FakeVsockGuest::header(VsockOp::kRw, 84, c.host_port), "last words");
  auto h = FakeVsockGuest::header(VsockOp::kShutdown, 84, c.host_port);
  h.flags = kVsockShutdownSend;
  g.send(h);
  EXPECT_EQ(FakeVsockGuest::read_n(c.host, 10), "last words");
  EXPECT_TRUE(FakeVsockGuest::closed_within(c.host, 1000)) << "no EOF after the guest's SEND";
  FakeVsockGuest::write_all(c.host, "answer");
  auto rw = g.recv_op(VsockOp::kRw);
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->data, "answer");
}

TEST(VsockDevice, GuestFullShutdownIsAnsweredWithRst) {
  FakeVsockGuest g;
  g.start();
  auto c = g.host_connection(85);
  auto h = FakeVsockGuest::header(VsockOp::kShutdown, 85, c.host_port);
  h.flags = kVsockShutdownBoth;
  g.send(h);
  auto rst = g.recv_op(VsockOp::kRst);
  ASSERT_TRUE(rst);
  EXPECT_TRUE(FakeVsockGuest::closed_within(c.host));
  EXPECT_EQ(g.counter("connections_reset"), 0u) << "a normal close is not a reset";
}

// The host closed its stream; the guest never sends its RST: the device resets it after the
// timeout, and other connections carry on.
TEST(VsockDevice, HalfOpenConnectionIsResetAfterTheTimeout) {
  FakeVsockGuest g;
  g.start();
  auto healthy = g.host_connection(86);
  auto c = g.host_connection(87);
  c.host.reset();
  auto sd = g.recv_op(VsockOp::kShutdown);
  ASSERT_TRUE(sd);
  EXPECT_EQ(sd->hdr.flags, kVsockShutdownBoth);
  EXPECT_EQ(sd->hdr.dst_port, 87u);
  EXPECT_TRUE(g.silent(100ms)) << "the RST came before the timeout";
  auto rst = g.recv_op(VsockOp::kRst, nullptr, 2000ms);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->hdr.dst_port, 87u);
  EXPECT_EQ(g.counter("shutdown_timeouts"), 1u);
  EXPECT_EQ(g.device().connection_count(), 1u);
  g.expect_alive(healthy, "after-timeout");
}

// A guest that never answers a host's CONNECT: the host stream closes without OK.
TEST(VsockDevice, UnansweredConnectTimesOut) {
  FakeVsockGuest g;
  g.start();
  auto [host, req] = g.host_connect(88);
  EXPECT_TRUE(FakeVsockGuest::closed_within(host, 2000));
  auto rst = g.recv_op(VsockOp::kRst);
  ASSERT_TRUE(rst) << "the guest must learn the request is void";
  EXPECT_EQ(rst->hdr.src_port, req.hdr.src_port);
  EXPECT_EQ(g.counter("connect_timeouts"), 1u);
  // A late RESPONSE finds no connection: answered with RST.
  g.send(FakeVsockGuest::header(VsockOp::kResponse, 88, req.hdr.src_port));
  EXPECT_TRUE(g.recv_op(VsockOp::kRst).has_value());
}

TEST(VsockDevice, HostConnectBeforeTheDriverIsUpIsDeliveredOrTimesOut) {
  FakeVsockGuest g;
  UniqueFd host = FakeVsockGuest::unix_connect(g.path());
  ASSERT_TRUE(host);
  FakeVsockGuest::write_all(host, "CONNECT 9\n");
  std::this_thread::sleep_for(50ms);
  g.start();
  auto req = g.recv_op(VsockOp::kRequest);
  ASSERT_TRUE(req) << "the REQUEST waits for the driver";
  EXPECT_EQ(req->hdr.dst_port, 9u);
}

TEST(VsockDevice, DeviceResetClosesEveryHostStream) {
  FakeVsockGuest g;
  g.start();
  auto c = g.host_connection(89);
  UniqueFd listener = FakeVsockGuest::unix_listen(g.port_path(7000));
  auto d = g.guest_connection(listener, 6000, 7000);
  g.device().reset();
  EXPECT_TRUE(FakeVsockGuest::closed_within(c.host));
  EXPECT_TRUE(FakeVsockGuest::closed_within(d.host));
  EXPECT_EQ(g.device().connection_count(), 0u);
  // The listener stays: a new host connection waits for the next driver.
  EXPECT_TRUE(FakeVsockGuest::unix_connect(g.path()));
}

TEST(VsockDevice, SocketFileLifecycle) {
  std::filesystem::path path;
  {
    FakeVsockGuest g;
    path = g.path();
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // A second device on the same path is refused while the first listens.
    EventLoop loop;
    try {
      VirtioVsock other(VsockConfig{.cid = 4, .socket = path}, loop);
      ADD_FAILURE() << "a path in use was taken over";
    } catch (const HostResourceError& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file outlived the device";
}

TEST(VsockDevice, StaleSocketIsReplacedAndOtherFilesAreRefused) {
  char tmpl[] = "/tmp/vsockXXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  const auto stale = dir / "stale.sock";
  {
    UniqueFd l = FakeVsockGuest::unix_listen(stale);  // bound, then closed: stale
    ASSERT_TRUE(l);
  }
  ASSERT_TRUE(std::filesystem::exists(stale));
  EventLoop loop;
  {
    VirtioVsock dev(VsockConfig{.cid = 3, .socket = stale}, loop);
    EXPECT_TRUE(FakeVsockGuest::unix_connect(stale));
  }
  const auto file = dir / "file";
  std::ofstream(file) << "not a socket";
  try {
    VirtioVsock dev(VsockConfig{.cid = 3, .socket = file}, loop);
    ADD_FAILURE() << "a regular file was replaced";
  } catch (const HostResourceError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vmm::virtio
