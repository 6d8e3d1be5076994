// virtio-net with two queue pairs and a control queue: the pairs' own backends and buffers,
// VQ_PAIRS_SET switching the second pair on, and hostile control requests.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "support/fake_virtio_interrupt.hpp"
#include "support/mock_net_backend.hpp"
#include "support/mock_virtqueue.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/virtio/net_device.hpp"

namespace vmm::virtio {
namespace {

using testing::MockNetBackend;
using testing::MockVirtqueue;

constexpr uint64_t kMiB = 1ULL << 20;
constexpr size_t kQueues = 5;  // rx0 tx0 rx1 tx1 ctrl
constexpr uint16_t kCtrl = 4;
constexpr uint64_t kRequest = 0x380000;  // where control requests are written
constexpr uint64_t kAck = 0x381000;

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 3000 && !pred(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

std::vector<uint8_t> packet(size_t frame_len, uint8_t fill) {
  std::vector<uint8_t> p(kVirtioNetHdrSize + frame_len, fill);
  std::fill_n(p.begin(), kVirtioNetHdrSize, 0);
  return p;
}

class NetMultiQueueTest : public ::testing::Test {
 protected:
  NetMultiQueueTest() {
    std::vector<std::unique_ptr<NetBackend>> backends;
    for (auto& s : shared_) {
      s = std::make_shared<MockNetBackend::Shared>();
      backends.push_back(std::make_unique<MockNetBackend>(s));
    }
    net_ = std::make_unique<VirtioNet>(std::move(backends), MacAddress{2, 1, 2, 3, 4, 5}, loop_);
    for (size_t i = 0; i < kQueues; ++i) {
      drivers_.push_back(std::make_unique<MockVirtqueue>(mem_, GuestAddress(0x1000 + i * 0x4000),
                                                         static_cast<uint16_t>(16)));
      kicks_.emplace_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    }
  }
  ~NetMultiQueueTest() override { net_->reset(); }

  void start(uint64_t extra = 0) {
    const uint64_t features = extra | feature_bit(kFeatureVersion1) | feature_bit(kNetFeatureMq) |
                              feature_bit(kNetFeatureCtrlVq) | feature_bit(kNetFeatureCtrlRx) |
                              feature_bit(kNetFeatureCtrlMacAddr);
    std::array<int, kQueues> fds{};
    for (size_t i = 0; i < kQueues; ++i) {
      drivers_[i]->configure(queues_[i]);
      ASSERT_TRUE(queues_[i].enable(mem_, features));
      fds[i] = kicks_[i].get();
    }
    net_->activate(ActivateContext{mem_, queues_, fds, features, irq_});
  }
  void kick(size_t queue) {
    const uint64_t one = 1;
    ASSERT_EQ(::write(kicks_[queue].get(), &one, sizeof one), 8);
  }
  void offer(size_t pair, std::vector<uint8_t> p) {
    auto& s = *shared_[pair];
    {
      std::lock_guard lock(s.mutex);
      s.inbound.push_back(std::move(p));
    }
    loop_.run_sync([&s] {
      std::function<void()> fn;
      {
        std::lock_guard lock(s.mutex);
        if (!s.armed) return;
        s.armed = false;
        fn = s.on_readable;
      }
      if (fn) fn();
    });
  }
  bool armed(size_t pair) {
    std::lock_guard lock(shared_[pair]->mutex);
    return shared_[pair]->armed;
  }
  bool active(size_t pair) {
    std::lock_guard lock(shared_[pair]->mutex);
    return shared_[pair]->queue_active;
  }
  // Sends one control request and returns the ack the device wrote (0xee: none written).
  uint8_t control(const std::vector<uint8_t>& request) {
    const uint16_t used_before = drivers_[kCtrl]->used_idx();
    EXPECT_TRUE(mem_.write_obj(GuestAddress(kAck), uint8_t{0xee}));
    EXPECT_TRUE(mem_.write(GuestAddress(kRequest), request));
    drivers_[kCtrl]->add_chain(
        {{kRequest, static_cast<uint32_t>(request.size()), false}, {kAck, 1, true}});
    kick(kCtrl);
    EXPECT_TRUE(eventually([&] { return drivers_[kCtrl]->used_idx() != used_before; }));
    return mem_.read_obj<uint8_t>(GuestAddress(kAck)).value_or(0xee);
  }

  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 4 * kMiB}});
  std::vector<std::unique_ptr<MockVirtqueue>> drivers_;
  std::array<Queue, kQueues> queues_{Queue(VirtioNet::kQueueSize), Queue(VirtioNet::kQueueSize),
                                     Queue(VirtioNet::kQueueSize), Queue(VirtioNet::kQueueSize),
                                     Queue(VirtioNet::kQueueSize)};
  std::vector<UniqueFd> kicks_;
  testing::FakeVirtioInterrupt irq_;
  EventLoop loop_;
  std::array<std::shared_ptr<MockNetBackend::Shared>, 2> shared_;
  std::unique_ptr<VirtioNet> net_;
};

TEST_F(NetMultiQueueTest, OffersMultiQueueWithAControlQueue) {
  const uint64_t f = net_->features();
  for (unsigned bit :
       {kNetFeatureMq, kNetFeatureCtrlVq, kNetFeatureCtrlRx, kNetFeatureCtrlMacAddr}) {
    EXPECT_NE(f & feature_bit(bit), 0u) << bit;
  }
  EXPECT_EQ(net_->queue_max_sizes().size(), kQueues);
  EXPECT_EQ(net_->control_queue(), kCtrl);
  std::array<uint8_t, 2> pairs{};
  net_->read_config(8, pairs);
  EXPECT_EQ(pairs[0] | (pairs[1] << 8), 2);
}

TEST(NetSingleQueue, OffersNeitherMultiQueueNorAControlQueue) {
  EventLoop loop;
  VirtioNet net(std::make_unique<MockNetBackend>(std::make_shared<MockNetBackend::Shared>()),
                MacAddress{2, 0, 0, 0, 0, 1}, loop);
  EXPECT_EQ(net.features() & (feature_bit(kNetFeatureMq) | feature_bit(kNetFeatureCtrlVq)), 0u);
  EXPECT_EQ(net.queue_max_sizes().size(), 2u);
}

TEST(NetMultiQueueLimits, NoBackendsOrTooManyAreRefused) {
  EventLoop loop;
  EXPECT_THROW(
      VirtioNet(std::vector<std::unique_ptr<NetBackend>>{}, MacAddress{2, 0, 0, 0, 0, 1}, loop),
      std::invalid_argument);
  std::vector<std::unique_ptr<NetBackend>> many;
  for (size_t i = 0; i <= kNetMaxQueuePairs; ++i) {
    many.push_back(std::make_unique<MockNetBackend>(std::make_shared<MockNetBackend::Shared>()));
  }
  EXPECT_THROW(VirtioNet(std::move(many), MacAddress{2, 0, 0, 0, 0, 1}, loop),
               std::invalid_argument);
}

TEST_F(NetMultiQueueTest, SecondPairStaysIdleUntilTheDriverEnablesIt) {
  start();
  EXPECT_TRUE(active(0));
  EXPECT_FALSE(active(1));  // the host steers nothing to a pair the guest does not use
  drivers_[2]->add_chain({{0x200000, 1530, true}});
  kick(2);
  ASSERT_TRUE(eventually([&] { return armed(0); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(armed(1));

  EXPECT_EQ(control({kNetCtrlMq, kNetCtrlMqVqPairsSet, 2, 0}), kNetCtrlOk);
  EXPECT_EQ(drivers_[kCtrl]->used_elem(0).len, 1u);
  EXPECT_EQ(net_->control_state().queue_pairs, 2);
  EXPECT_TRUE(active(1));
  ASSERT_TRUE(eventually([&] { return armed(1); }));

  // Each pair moves its own packets: receive on pair 1, transmit on both.
  offer(1, packet(100, 0x11));
  ASSERT_TRUE(eventually([&] { return drivers_[2]->used_idx() == 1; }));
  EXPECT_EQ(drivers_[0]->used_idx(), 0);
  EXPECT_EQ(mem_.read_obj<uint8_t>(GuestAddress(0x200000 + kVirtioNetHdrSize)), 0x11);

  const auto p = packet(60, 0x22);
  ASSERT_TRUE(mem_.write(GuestAddress(0x100000), p));
  drivers_[3]->add_chain({{0x100000, static_cast<uint32_t>(p.size()), false}});
  kick(3);
  ASSERT_TRUE(eventually([&] { return drivers_[3]->used_idx() == 1; }));
  {
    std::lock_guard lock(shared_[1]->mutex);
    ASSERT_EQ(shared_[1]->sent.size(), 1u);
    EXPECT_EQ(shared_[1]->sent[0], p);
  }
  {
    std::lock_guard lock(shared_[0]->mutex);
    EXPECT_TRUE(shared_[0]->sent.empty());
  }
  EXPECT_EQ(net_->counters().rx_packets, 1u);
  EXPECT_EQ(net_->counters().tx_packets, 1u);

  // Back to one pair: the second backend is deactivated again.
  EXPECT_EQ(control({kNetCtrlMq, kNetCtrlMqVqPairsSet, 1, 0}), kNetCtrlOk);
  EXPECT_FALSE(active(1));
}

TEST_F(NetMultiQueueTest, MalformedControlRequestsAreAnsweredWithAnError) {
  start();
  EXPECT_EQ(control({kNetCtrlMq, kNetCtrlMqVqPairsSet, 3, 0}), kNetCtrlErr);  // beyond 2 pairs
  EXPECT_EQ(control({kNetCtrlMq, kNetCtrlMqVqPairsSet, 0, 0}), kNetCtrlErr);
  EXPECT_EQ(control({kNetCtrlMq, kNetCtrlMqVqPairsSet, 2}), kNetCtrlErr);  // truncated
  EXPECT_EQ(control({kNetCtrlMq}), kNetCtrlErr);
  EXPECT_EQ(control({0x77, 0, 1}), kNetCtrlErr);  // unknown class
  EXPECT_EQ(control(std::vector<uint8_t>(kNetCtrlMaxRequest + 1, 0)), kNetCtrlErr);  // too long
  EXPECT_FALSE(active(1));
  EXPECT_EQ(net_->control_state().queue_pairs, 1);
  EXPECT_EQ(control({kNetCtrlRx, kNetCtrlRxPromisc, 1}), kNetCtrlOk);
  EXPECT_EQ(control({kNetCtrlMac, kNetCtrlMacAddrSet, 2, 9, 9, 9, 9, 9}), kNetCtrlOk);
  EXPECT_TRUE(net_->control_state().promisc);
  EXPECT_EQ(net_->control_state().mac, (MacAddress{2, 9, 9, 9, 9, 9}));
  EXPECT_FALSE(irq_.needs_reset.load());
}

TEST_F(NetMultiQueueTest, RequestSplitOverBuffersAndMissingAck) {
  start();
  // Class and command in one buffer, the pair count in another.
  ASSERT_TRUE(mem_.write(GuestAddress(kRequest), std::vector<uint8_t>{kNetCtrlMq, 0}));
  ASSERT_TRUE(mem_.write(GuestAddress(kRequest + 0x100), std::vector<uint8_t>{2, 0}));
  ASSERT_TRUE(mem_.write_obj(GuestAddress(kAck), uint8_t{0xee}));
  drivers_[kCtrl]->add_chain({{kRequest, 2, false}, {kRequest + 0x100, 2, false}, {kAck, 1, true}});
  kick(kCtrl);
  ASSERT_TRUE(eventually([&] { return drivers_[kCtrl]->used_idx() == 1; }));
  EXPECT_EQ(mem_.read_obj<uint8_t>(GuestAddress(kAck)), kNetCtrlOk);
  EXPECT_TRUE(active(1));
  // No writable byte for the ack: completed with nothing written.
  drivers_[kCtrl]->add_chain({{kRequest, 2, false}});
  kick(kCtrl);
  ASSERT_TRUE(eventually([&] { return drivers_[kCtrl]->used_idx() == 2; }));
  EXPECT_EQ(drivers_[kCtrl]->used_elem(1).len, 0u);
  EXPECT_FALSE(irq_.needs_reset.load());
}

// Linux kicks the control queue only when avail_event asks for it; a device that never
// re-enabled notification would miss every request after the first, and the driver spins.
TEST_F(NetMultiQueueTest, ControlQueueAsksForTheNextKickWithEventIdx) {
  start(feature_bit(kFeatureRingEventIdx));
  for (const uint8_t pairs : {uint8_t{2}, uint8_t{1}, uint8_t{2}}) {
    EXPECT_EQ(control({kNetCtrlMq, kNetCtrlMqVqPairsSet, pairs, 0}), kNetCtrlOk);
    EXPECT_EQ(drivers_[kCtrl]->avail_event(), drivers_[kCtrl]->avail_idx());
  }
  EXPECT_TRUE(active(1));
}

TEST_F(NetMultiQueueTest, ControlRequestOutsideRamNeedsReset) {
  start();
  drivers_[kCtrl]->add_chain({{4 * kMiB - 2, 4, false}, {kAck, 1, true}});
  kick(kCtrl);
  ASSERT_TRUE(eventually([&] { return irq_.needs_reset.load(); }));
  EXPECT_FALSE(active(1));
}

}  // namespace
}  // namespace vmm::virtio
