#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "support/fake_virtio_interrupt.hpp"
#include "support/mock_net_backend.hpp"
#include "support/mock_virtqueue.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/virtio/net_device.hpp"

namespace vmm::virtio {
namespace {

using testing::MockVirtqueue;

constexpr uint64_t kMiB = 1ULL << 20;

using testing::MockNetBackend;

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 3000 && !pred(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

// A packet as the backend delivers it: zero header, then `frame_len` bytes counting up.
std::vector<uint8_t> packet(size_t frame_len) {
  std::vector<uint8_t> p(kVirtioNetHdrSize + frame_len, 0);
  for (size_t i = 0; i < frame_len; ++i) p[kVirtioNetHdrSize + i] = static_cast<uint8_t>(i * 7);
  return p;
}

class NetTest : public ::testing::Test {
 protected:
  void start(uint64_t features) {
    rx_driver_.configure(queues_[0]);
    tx_driver_.configure(queues_[1]);
    for (auto& q : queues_) ASSERT_TRUE(q.enable(mem_, features));
    const int fds[] = {rx_kick_.get(), tx_kick_.get()};
    net_->activate(ActivateContext{mem_, queues_, fds, features, irq_});
    // Activation queues a first pass over the rings; let it run before the test adds buffers,
    // or it may serve half of a batch.
    loop_.run_sync([] {});
  }
  ~NetTest() override { net_->reset(); }

  void offer(std::vector<uint8_t> p) {
    {
      std::lock_guard lock(shared_->mutex);
      shared_->inbound.push_back(std::move(p));
    }
    // The backend became readable: call the device the way a real backend would.
    loop_.run_sync([this] {
      std::function<void()> fn;
      {
        std::lock_guard lock(shared_->mutex);
        if (!shared_->armed) return;
        shared_->armed = false;
        fn = shared_->on_readable;
      }
      if (fn) fn();
    });
  }
  static void kick(const UniqueFd& fd) {
    const uint64_t one = 1;
    ASSERT_EQ(::write(fd.get(), &one, sizeof one), 8);
  }
  std::vector<uint8_t> read_guest(uint64_t addr, size_t len) {
    std::vector<uint8_t> v(len);
    EXPECT_TRUE(mem_.read(GuestAddress(addr), v));
    return v;
  }
  bool armed() {
    std::lock_guard lock(shared_->mutex);
    return shared_->armed;
  }

  static constexpr uint64_t kBase = feature_bit(kFeatureVersion1);
  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 4 * kMiB}});
  MockVirtqueue rx_driver_{mem_, GuestAddress(0x1000), 16};
  MockVirtqueue tx_driver_{mem_, GuestAddress(0x10000), 16};
  std::array<Queue, 2> queues_{Queue(VirtioNet::kQueueSize), Queue(VirtioNet::kQueueSize)};
  UniqueFd rx_kick_{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  UniqueFd tx_kick_{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  testing::FakeVirtioInterrupt irq_;
  EventLoop loop_;
  std::shared_ptr<MockNetBackend::Shared> shared_ = std::make_shared<MockNetBackend::Shared>();
  std::unique_ptr<VirtioNet> net_ = std::make_unique<VirtioNet>(
      std::make_unique<MockNetBackend>(shared_), MacAddress{2, 1, 2, 3, 4, 5}, loop_);
};

TEST_F(NetTest, ConfigAndFeatures) {
  EXPECT_EQ(net_->device_type(), DeviceType::kNet);
  const uint64_t f = net_->features();
  for (unsigned bit : {kNetFeatureMac, kNetFeatureStatus, kNetFeatureMtu, kNetFeatureMrgRxbuf,
                       kNetFeatureCsum, kNetFeatureGuestTso4, kNetFeatureHostTso6}) {
    EXPECT_NE(f & feature_bit(bit), 0u) << bit;
  }
  std::array<uint8_t, 12> cfg{};
  net_->read_config(0, cfg);
  EXPECT_EQ(cfg[0], 2);
  EXPECT_EQ(cfg[5], 5);
  EXPECT_EQ(cfg[6], kNetStatusLinkUp);
  EXPECT_EQ(cfg[8], 1);                       // one queue pair
  EXPECT_EQ(cfg[10] | (cfg[11] << 8), 1500);  // mtu
}

TEST(NetFeatures, NoOffloadsWithoutBackendSupport) {
  EventLoop loop;
  auto s = std::make_shared<MockNetBackend::Shared>();
  s->offloads_supported = false;
  VirtioNet net(std::make_unique<MockNetBackend>(s), MacAddress{2, 0, 0, 0, 0, 1}, loop);
  for (unsigned bit : {kNetFeatureCsum, kNetFeatureGuestCsum, kNetFeatureHostTso4,
                       kNetFeatureGuestTso4, kNetFeatureHostUfo, kNetFeatureGuestUfo}) {
    EXPECT_EQ(net.features() & feature_bit(bit), 0u) << bit;
  }
  EXPECT_NE(net.features() & feature_bit(kNetFeatureMrgRxbuf), 0u);
}

TEST_F(NetTest, GuestOffloadsReachTheBackend) {
  start(kBase | feature_bit(kNetFeatureGuestCsum) | feature_bit(kNetFeatureGuestTso4));
  EXPECT_EQ(shared_->offloads, (NetOffloads{true, true, false, false}));
}

TEST_F(NetTest, TransmitPassesHeaderAndFrame) {
  start(kBase);
  std::vector<uint8_t> hdr(kVirtioNetHdrSize, 0);
  hdr[0] = 1;  // NEEDS_CSUM travels unchanged
  ASSERT_TRUE(mem_.write(GuestAddress(0x100000), hdr));
  const auto frame = packet(60);
  ASSERT_TRUE(mem_.write(GuestAddress(0x101000), std::span(frame).subspan(kVirtioNetHdrSize)));
  tx_driver_.add_chain({{0x100000, kVirtioNetHdrSize, false}, {0x101000, 60, false}});
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return tx_driver_.used_idx() == 1; }));
  std::lock_guard lock(shared_->mutex);
  ASSERT_EQ(shared_->sent.size(), 1u);
  EXPECT_EQ(shared_->sent[0].size(), kVirtioNetHdrSize + 60);
  EXPECT_EQ(shared_->sent[0][0], 1);
  EXPECT_TRUE(std::equal(frame.begin() + kVirtioNetHdrSize, frame.end(),
                         shared_->sent[0].begin() + kVirtioNetHdrSize));
  EXPECT_EQ(net_->counters().tx_packets, 1u);
  EXPECT_EQ(net_->counters().tx_bytes, 60u);
}

TEST_F(NetTest, TransmitShorterThanHeaderIsDropped) {
  start(kBase);
  tx_driver_.add_chain({{0x100000, 8, false}});
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return tx_driver_.used_idx() == 1; }));
  EXPECT_EQ(net_->counters().tx_drops, 1u);
  EXPECT_EQ(net_->counters().tx_packets, 0u);
  EXPECT_FALSE(irq_.needs_reset.load());
}

TEST_F(NetTest, OversizedTransmitIsDropped) {
  start(kBase);
  tx_driver_.add_chain({{0x100000, 40000, false}, {0x200000, 40000, false}});
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return tx_driver_.used_idx() == 1; }));
  EXPECT_EQ(net_->counters().tx_drops, 1u);
  std::lock_guard lock(shared_->mutex);
  EXPECT_TRUE(shared_->sent.empty());
}

TEST_F(NetTest, ReceiveSetsNumBuffersOne) {
  start(kBase);
  rx_driver_.add_chain({{0x200000, 1526, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  const auto p = packet(100);
  offer(p);
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 1; }));
  EXPECT_EQ(rx_driver_.used_elem(0).len, p.size());
  auto got = read_guest(0x200000, p.size());
  EXPECT_EQ(got[kNetHdrNumBuffersOffset], 1);
  got[kNetHdrNumBuffersOffset] = 0;
  EXPECT_EQ(got, p);
  EXPECT_EQ(net_->counters().rx_packets, 1u);
  EXPECT_EQ(net_->counters().rx_bytes, 100u);
  EXPECT_TRUE(eventually([&] { return irq_.used_signals.load() > 0; }));
}

TEST_F(NetTest, MergeableBuffersSpreadALargeFrame) {
  start(kBase | feature_bit(kNetFeatureMrgRxbuf) | feature_bit(kNetFeatureGuestCsum) |
        feature_bit(kNetFeatureGuestTso4));
  for (uint64_t i = 0; i < 3; ++i) rx_driver_.add_chain({{0x200000 + i * 0x1000, 1500, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  const auto p = packet(3000 - kVirtioNetHdrSize);  // 3000 bytes with the header
  offer(p);
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 2; }));
  EXPECT_EQ(rx_driver_.used_elem(0).len, 1500u);
  EXPECT_EQ(rx_driver_.used_elem(1).len, 1500u);
  auto got = read_guest(0x200000, 1500);
  const auto second = read_guest(0x201000, 1500);
  EXPECT_EQ(got[kNetHdrNumBuffersOffset], 2);
  got[kNetHdrNumBuffersOffset] = 0;
  got.insert(got.end(), second.begin(), second.end());
  EXPECT_EQ(got, p);
  // The third buffer is kept for the next frame.
  offer(packet(50));
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 3; }));
  EXPECT_EQ(rx_driver_.used_elem(2).len, kVirtioNetHdrSize + 50);
  EXPECT_EQ(read_guest(0x202000, kVirtioNetHdrSize)[kNetHdrNumBuffersOffset], 1);
}

TEST_F(NetTest, ReceiveBufferShorterThanHeaderIsReturnedEmpty) {
  start(kBase);
  rx_driver_.add_chain({{0x200000, 4, true}});
  rx_driver_.add_chain({{0x201000, 1526, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  offer(packet(64));
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 2; }));
  EXPECT_EQ(rx_driver_.used_elem(0).len, 0u);
  EXPECT_EQ(rx_driver_.used_elem(1).len, kVirtioNetHdrSize + 64);
  EXPECT_EQ(net_->counters().rx_drops, 1u);
  EXPECT_EQ(net_->counters().rx_packets, 1u);
  EXPECT_FALSE(irq_.needs_reset.load());
}

TEST_F(NetTest, OversizedReceiveFrameIsDropped) {
  start(kBase);  // no GUEST_TSO: frames beyond the MTU are not for this guest
  rx_driver_.add_chain({{0x200000, 1526, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  offer(packet(9000));
  ASSERT_TRUE(eventually([&] { return net_->counters().rx_drops == 1; }));
  offer(packet(80));
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 1; }));
  EXPECT_EQ(rx_driver_.used_elem(0).len, kVirtioNetHdrSize + 80);
}

TEST_F(NetTest, FrameLargerThanTheGuestBufferIsDropped) {
  start(kBase | feature_bit(kNetFeatureGuestCsum) | feature_bit(kNetFeatureGuestTso4));
  rx_driver_.add_chain({{0x200000, 1526, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  offer(packet(3000));
  ASSERT_TRUE(eventually([&] { return net_->counters().rx_drops == 1; }));
  offer(packet(80));  // the buffer was kept for this one
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 1; }));
}

TEST_F(NetTest, NoReceiveBuffersHoldsTheBackendUntilTheGuestKicks) {
  start(kBase);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  offer(packet(60));
  offer(packet(61));  // not armed: the device must not read this one yet
  {
    std::lock_guard lock(shared_->mutex);
    EXPECT_FALSE(shared_->armed);
    EXPECT_EQ(shared_->inbound.size(), 1u);  // one packet held by the device, one in backend
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    std::lock_guard lock(shared_->mutex);
    EXPECT_LE(shared_->receive_calls, 2);  // no busy loop
  }
  rx_driver_.add_chain({{0x200000, 1526, true}});
  rx_driver_.add_chain({{0x201000, 1526, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 2; }));
  EXPECT_EQ(rx_driver_.used_elem(0).len, kVirtioNetHdrSize + 60);
  EXPECT_EQ(rx_driver_.used_elem(1).len, kVirtioNetHdrSize + 61);
  EXPECT_TRUE(eventually([&] { return armed(); }));
  EXPECT_EQ(net_->counters().rx_drops, 0u);
}

TEST_F(NetTest, TransmitHandsTheGuestBuffersToTheBackendInPlace) {
  start(kBase);
  const auto p = packet(200);
  ASSERT_TRUE(mem_.write(GuestAddress(0x100000), std::span(p).first(5)));  // header split
  ASSERT_TRUE(mem_.write(GuestAddress(0x100100), std::span(p).subspan(5, 100)));
  ASSERT_TRUE(mem_.write(GuestAddress(0x100400), std::span(p).subspan(105)));
  tx_driver_.add_chain({{0x100000, 5, false},
                        {0x100100, 100, false},
                        {0x100400, static_cast<uint32_t>(p.size() - 105), false}});
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return tx_driver_.used_idx() == 1; }));
  std::lock_guard lock(shared_->mutex);
  EXPECT_EQ(shared_->send_segments, 3u);  // one segment per guest buffer: no flat copy
  ASSERT_EQ(shared_->sent.size(), 1u);
  EXPECT_EQ(shared_->sent[0], p);
}

TEST_F(NetTest, TransmitBatchOneInterruptForAllChains) {
  start(kBase);
  const auto p = packet(64);
  for (uint64_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(mem_.write(GuestAddress(0x100000 + i * 0x1000), p));
    tx_driver_.add_chain({{0x100000 + i * 0x1000, static_cast<uint32_t>(p.size()), false}});
  }
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return tx_driver_.used_idx() == 8; }));
  EXPECT_EQ(net_->counters().tx_packets, 8u);
  // The interrupt follows the last used entry, from the device's thread.
  ASSERT_TRUE(eventually([&] { return irq_.used_signals.load() >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(irq_.used_signals.load(), 1);
}

TEST_F(NetTest, TransmitInTooManyBuffersIsDropped) {
  start(kBase | feature_bit(kFeatureRingIndirectDesc));
  // An indirect table of kNetMaxSegments + 1 sixteen-byte buffers: within the maximum frame,
  // but more segments than one writev takes.
  const GuestAddress table(0x300000);
  const auto n = static_cast<uint16_t>(kNetMaxSegments + 1);
  for (uint16_t i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    tx_driver_.write_desc_at(table, i, 0x100000 + uint64_t{i} * 16, 16, last ? 0 : kDescFlagNext,
                             static_cast<uint16_t>(last ? 0 : i + 1));
  }
  tx_driver_.set_desc(0, table.raw, n * kDescriptorSize, kDescFlagIndirect, 0);
  tx_driver_.publish(0);
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return tx_driver_.used_idx() == 1; }));
  EXPECT_EQ(net_->counters().tx_drops, 1u);
  EXPECT_FALSE(irq_.needs_reset.load());
  std::lock_guard lock(shared_->mutex);
  EXPECT_TRUE(shared_->sent.empty());
}

TEST_F(NetTest, TransmitBufferOutsideRamNeedsReset) {
  start(kBase);
  tx_driver_.add_chain({{0x100000, kVirtioNetHdrSize, false}, {4 * kMiB - 16, 64, false}});
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return irq_.needs_reset.load(); }));
  std::lock_guard lock(shared_->mutex);
  EXPECT_TRUE(shared_->sent.empty());
}

TEST_F(NetTest, TransmitLengthsWrappingPast32BitsNeedReset) {
  start(kBase | feature_bit(kFeatureRingIndirectDesc));
  // Each buffer is in RAM (the same 3 MiB, repeatedly), but together they exceed 4 GiB.
  const GuestAddress table(0x300000);
  const uint16_t n = 1400;
  for (uint16_t i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    tx_driver_.write_desc_at(table, i, 0x100000, 3 * kMiB, last ? 0 : kDescFlagNext,
                             static_cast<uint16_t>(last ? 0 : i + 1));
  }
  tx_driver_.set_desc(0, table.raw, n * kDescriptorSize, kDescFlagIndirect, 0);
  tx_driver_.publish(0);
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return irq_.needs_reset.load(); }));
  std::lock_guard lock(shared_->mutex);
  EXPECT_TRUE(shared_->sent.empty());
}

TEST_F(NetTest, ReceiveBufferOutsideRamNeedsReset) {
  start(kBase);
  rx_driver_.add_chain({{4 * kMiB - 100, 1530, true}});
  kick(rx_kick_);
  offer(packet(60));
  ASSERT_TRUE(eventually([&] { return irq_.needs_reset.load(); }));
  EXPECT_EQ(rx_driver_.used_idx(), 0);
}

// Without GSO the largest frame is 1530 bytes with the header: three 600-byte buffers cover
// it, so the device reads straight into them.
TEST_F(NetTest, MergeableReceiveReadsInPlaceAcrossChainsAndKeepsTheRest) {
  start(kBase | feature_bit(kNetFeatureMrgRxbuf));
  for (uint64_t i = 0; i < 6; ++i) rx_driver_.add_chain({{0x200000 + i * 0x1000, 600, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  const auto p = packet(1400 - kVirtioNetHdrSize);  // 1400 bytes: 600 + 600 + 200
  offer(p);
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 3; }));
  {
    std::lock_guard lock(shared_->mutex);
    EXPECT_EQ(shared_->receive_segments, 4u);  // three guest buffers and the spare byte
  }
  EXPECT_EQ(rx_driver_.used_elem(0).len, 600u);
  EXPECT_EQ(rx_driver_.used_elem(1).len, 600u);
  EXPECT_EQ(rx_driver_.used_elem(2).len, 200u);
  std::vector<uint8_t> got;
  for (uint64_t i = 0; i < 3; ++i) {
    const auto part = read_guest(0x200000 + i * 0x1000, i < 2 ? 600 : 200);
    got.insert(got.end(), part.begin(), part.end());
  }
  EXPECT_EQ(got[kNetHdrNumBuffersOffset], 3);
  got[kNetHdrNumBuffersOffset] = 0;
  EXPECT_EQ(got, p);
  // The fourth chain takes the next frame; the fifth and sixth stay held, not returned.
  offer(packet(100));
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 4; }));
  EXPECT_EQ(rx_driver_.used_elem(3).len, kVirtioNetHdrSize + 100);
  EXPECT_EQ(read_guest(0x203000, kVirtioNetHdrSize)[kNetHdrNumBuffersOffset], 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(rx_driver_.used_idx(), 4);
  EXPECT_EQ(net_->counters().rx_packets, 2u);
  EXPECT_EQ(net_->counters().rx_bytes, 1400 - kVirtioNetHdrSize + 100);
  ASSERT_TRUE(eventually([&] { return irq_.used_signals.load() >= 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(irq_.used_signals.load(), 2);
}

TEST_F(NetTest, InPlaceReceiveWritesNumBuffersIntoASplitHeader) {
  start(kBase);
  // One chain: the header split over 6 + 6 bytes, then room for the largest frame.
  rx_driver_.add_chain({{0x200000, 6, true}, {0x200100, 6, true}, {0x201000, 1518, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  offer(packet(80));
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 1; }));
  {
    std::lock_guard lock(shared_->mutex);
    EXPECT_EQ(shared_->receive_segments, 4u);
  }
  EXPECT_EQ(read_guest(0x200100, 6)[kNetHdrNumBuffersOffset - 6], 1);
  EXPECT_EQ(rx_driver_.used_elem(0).len, kVirtioNetHdrSize + 80);
}

TEST_F(NetTest, InPlaceReceiveOfAFrameBeyondTheMaximumIsDroppedAndTheBuffersKept) {
  start(kBase | feature_bit(kNetFeatureMrgRxbuf));
  for (uint64_t i = 0; i < 3; ++i) rx_driver_.add_chain({{0x200000 + i * 0x1000, 600, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  offer(packet(1519));  // one byte beyond MTU + Ethernet header + VLAN tag
  ASSERT_TRUE(eventually([&] { return net_->counters().rx_drops == 1; }));
  EXPECT_EQ(rx_driver_.used_idx(), 0);
  offer(packet(1518));  // exactly the largest
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 3; }));
  EXPECT_EQ(rx_driver_.used_elem(2).len, 1530u - 1200u);
  EXPECT_EQ(net_->counters().rx_packets, 1u);
}

TEST_F(NetTest, ReceiveBatchOneInterruptForSeveralFrames) {
  start(kBase);
  for (uint64_t i = 0; i < 4; ++i) rx_driver_.add_chain({{0x200000 + i * 0x1000, 1530, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return armed(); }));
  {
    std::lock_guard lock(shared_->mutex);
    for (size_t i = 0; i < 3; ++i) shared_->inbound.push_back(packet(60 + i));
  }
  const int before = irq_.used_signals.load();
  offer(packet(63));
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 4; }));
  ASSERT_TRUE(eventually([&] { return irq_.used_signals.load() - before >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(irq_.used_signals.load() - before, 1);
  EXPECT_EQ(rx_driver_.used_elem(3).len, kVirtioNetHdrSize + 63);
}

TEST_F(NetTest, HostileTransmitChainNeedsReset) {
  start(kBase);
  tx_driver_.set_desc(0, 0x100000, 8, kDescFlagNext, 0);  // loops on itself
  tx_driver_.publish(0);
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return irq_.needs_reset.load(); }));
}

}  // namespace
}  // namespace vmm::virtio
