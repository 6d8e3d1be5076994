// vhost-net setup against a fake ioctl layer: what vmm tells the kernel about guest RAM and the
// rings, what it refuses to tell it, and the fallback to the user-space data path.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

// virtio_ring.h (included by vhost.h) has C-only legacy helpers.
#define VIRTIO_RING_NO_LEGACY
#include <linux/vhost.h>

#include "vmm/common/error.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/net_device.hpp"
#include "vmm/virtio/net_factory.hpp"
#include "vmm/virtio/net_tap.hpp"
#include "vmm/virtio/vhost_net.hpp"
#include "vmm/virtio/vhost_net_device.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio {
namespace {

constexpr uint64_t kVhostFeatures =
    feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingEventIdx) |
    feature_bit(kFeatureRingIndirectDesc) | feature_bit(kNetFeatureMrgRxbuf);

// Records every request with the argument it carried.
struct Recorded {
  unsigned long request = 0;
  vhost_vring_state state{};
  vhost_vring_addr addr{};
  vhost_vring_file file{};
  uint64_t features = 0;
  std::vector<vhost_memory_region> regions;
};

class FakeVhost final : public VhostIoctl {
 public:
  FakeVhost(std::vector<Recorded>& log, uint64_t features) : log_(log), features_(features) {}
  int ioctl(unsigned long request, void* arg) noexcept override {
    Recorded r;
    r.request = request;
    if (request == VHOST_GET_FEATURES) {
      std::memcpy(arg, &features_, sizeof features_);
    } else if (request == VHOST_SET_FEATURES) {
      std::memcpy(&r.features, arg, sizeof r.features);
    } else if (request == VHOST_SET_MEM_TABLE) {
      vhost_memory header{};
      std::memcpy(&header, arg, sizeof header);
      r.regions.resize(header.nregions);
      std::memcpy(r.regions.data(), static_cast<uint8_t*>(arg) + sizeof header,
                  header.nregions * sizeof(vhost_memory_region));
    } else if (request == VHOST_SET_VRING_NUM || request == VHOST_SET_VRING_BASE) {
      std::memcpy(&r.state, arg, sizeof r.state);
    } else if (request == VHOST_SET_VRING_ADDR) {
      std::memcpy(&r.addr, arg, sizeof r.addr);
    } else if (request == VHOST_SET_VRING_KICK || request == VHOST_SET_VRING_CALL ||
               request == VHOST_NET_SET_BACKEND) {
      std::memcpy(&r.file, arg, sizeof r.file);
    }
    log_.push_back(r);
    return request == fail_on ? EINVAL : 0;
  }
  unsigned long fail_on = 0;

 private:
  std::vector<Recorded>& log_;
  uint64_t features_;
};

class VhostNetSetup : public ::testing::Test {
 protected:
  // Two RAM regions with a gap, as below and above the 32-bit hole.
  GuestMemory memory_ = GuestMemory::create_regions(
      {{GuestAddress(0), 0x100000}, {GuestAddress(0x200000), 0x100000}});
  std::vector<Recorded> log_;

  std::unique_ptr<VhostNet> make(uint64_t features = kVhostFeatures, unsigned long fail_on = 0) {
    auto fake = std::make_unique<FakeVhost>(log_, features);
    fake->fail_on = fail_on;
    return std::make_unique<VhostNet>(std::move(fake));
  }
  static Queue queue(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used) {
    Queue q(256);
    q.set_size(size);
    q.set_desc_table(GuestAddress(desc));
    q.set_avail_ring(GuestAddress(avail));
    q.set_used_ring(GuestAddress(used));
    return q;
  }
  uint64_t host(uint64_t guest) const {
    return reinterpret_cast<uintptr_t>(memory_.span(GuestAddress(guest), 1)->data());
  }
  std::vector<unsigned long> requests() const {
    std::vector<unsigned long> r;
    for (const auto& e : log_) r.push_back(e.request);
    return r;
  }
};

TEST_F(VhostNetSetup, TakesOwnershipAndReadsFeatures) {
  auto vhost = make();
  EXPECT_EQ(requests(), (std::vector<unsigned long>{VHOST_SET_OWNER, VHOST_GET_FEATURES}));
  EXPECT_EQ(vhost->features(), kVhostFeatures);
}

TEST_F(VhostNetSetup, RefusesAVhostWithoutVersion1) {
  EXPECT_THROW((void)make(feature_bit(kFeatureRingEventIdx)), Error);
}

TEST_F(VhostNetSetup, ProgramsMemoryRingsEventfdsAndBackendInOrder) {
  auto vhost = make();
  log_.clear();
  const Queue rx = queue(256, 0x10000, 0x11000, 0x12000);
  const Queue tx = queue(128, 0x200000, 0x201000, 0x202000);  // in the second region
  const std::array<VhostNet::QueueWiring, 2> wiring{
      VhostNet::QueueWiring{.queue = &rx, .kick = 10, .call = 11},
      VhostNet::QueueWiring{.queue = &tx, .kick = 12, .call = 13}};
  // The driver acked offloads vhost knows nothing of: only vhost's bits reach it.
  const uint64_t acked = kVhostFeatures | feature_bit(kNetFeatureGuestCsum);
  vhost->start(memory_, acked, wiring, 42);

  const std::vector<unsigned long> per_queue{VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE,
                                             VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK,
                                             VHOST_SET_VRING_CALL};
  std::vector<unsigned long> expected{VHOST_SET_FEATURES, VHOST_SET_MEM_TABLE};
  expected.insert(expected.end(), per_queue.begin(), per_queue.end());
  expected.insert(expected.end(), per_queue.begin(), per_queue.end());
  expected.insert(expected.end(), {VHOST_NET_SET_BACKEND, VHOST_NET_SET_BACKEND});
  ASSERT_EQ(requests(), expected);

  EXPECT_EQ(log_[0].features, kVhostFeatures);
  ASSERT_EQ(log_[1].regions.size(), 2U);
  for (size_t i = 0; i < 2; ++i) {
    const GuestRegion& g = memory_.regions()[i];
    EXPECT_EQ(log_[1].regions[i].guest_phys_addr, g.start.raw);
    EXPECT_EQ(log_[1].regions[i].memory_size, g.size);
    EXPECT_EQ(log_[1].regions[i].userspace_addr, reinterpret_cast<uintptr_t>(g.host));
  }
  const Queue* queues[] = {&rx, &tx};
  for (unsigned q = 0; q < 2; ++q) {
    const size_t at = 2 + q * per_queue.size();
    EXPECT_EQ(log_[at].state.index, q);
    EXPECT_EQ(log_[at].state.num, queues[q]->size());
    EXPECT_EQ(log_[at + 1].state.num, 0U) << "a new queue starts at index 0";
    EXPECT_EQ(log_[at + 2].addr.index, q);
    EXPECT_EQ(log_[at + 2].addr.desc_user_addr, host(queues[q]->desc_table().raw));
    EXPECT_EQ(log_[at + 2].addr.avail_user_addr, host(queues[q]->avail_ring().raw));
    EXPECT_EQ(log_[at + 2].addr.used_user_addr, host(queues[q]->used_ring().raw));
    EXPECT_EQ(log_[at + 3].file.fd, wiring[q].kick);
    EXPECT_EQ(log_[at + 4].file.fd, wiring[q].call);
    EXPECT_EQ(log_[12 + q].file.index, q);
    EXPECT_EQ(log_[12 + q].file.fd, 42);
  }

  log_.clear();
  vhost->stop();
  ASSERT_EQ(log_.size(), 2U);
  for (unsigned q = 0; q < 2; ++q) {
    EXPECT_EQ(log_[q].request, VHOST_NET_SET_BACKEND);
    EXPECT_EQ(log_[q].file.index, q);
    EXPECT_EQ(log_[q].file.fd, -1);
  }
  log_.clear();
  vhost->stop();
  EXPECT_TRUE(log_.empty()) << "stop is idempotent";
}

TEST_F(VhostNetSetup, RingsOutsideRamOrMisalignedAreRefusedBeforeTheKernelHearsOfThem) {
  auto vhost = make();
  const Queue good = queue(256, 0x10000, 0x11000, 0x12000);
  const Queue bad[] = {
      queue(256, 0x10008, 0x11000, 0x12000),                // descriptor table not 16-byte aligned
      queue(256, 0x10000, 0x11001, 0x12000),                // avail not 2-byte aligned
      queue(256, 0x10000, 0x11000, 0x12002),                // used not 4-byte aligned
      queue(256, 0xff000 + 0x100, 0x11000, 0x12000),        // table runs past the first region
      queue(256, 0x10000, 0x150000, 0x12000),               // avail in the gap
      queue(256, 0x10000, 0x11000, 0x400000),               // used past the end of RAM
      queue(256, 0x10000, 0x11000, 0xfffffffffffffff0ULL),  // wraps around
      queue(0, 0x10000, 0x11000, 0x12000),                  // no entries
  };
  for (const Queue& b : bad) {
    log_.clear();
    const std::array<VhostNet::QueueWiring, 2> wiring{
        VhostNet::QueueWiring{.queue = &good, .kick = 10, .call = 11},
        VhostNet::QueueWiring{.queue = &b, .kick = 12, .call = 13}};
    EXPECT_THROW(vhost->start(memory_, kVhostFeatures, wiring, 42), Error)
        << std::hex << b.desc_table().raw << " " << b.avail_ring().raw << " " << b.used_ring().raw;
    EXPECT_TRUE(log_.empty());
  }
}

TEST_F(VhostNetSetup, RingsEndingExactlyAtTheEndOfARegionAreAccepted) {
  // 256 entries: table 4096, avail 4 + 512 + 2, used 4 + 2048 + 2 bytes.
  const auto rings =
      vhost_ring_addresses(memory_, 256, GuestAddress(0x100000 - 4096),
                           GuestAddress(0x100000 - 518), GuestAddress(0x300000 - 2056));
  ASSERT_TRUE(rings.has_value());
  EXPECT_EQ(rings->desc, host(0x100000 - 4096));
  EXPECT_FALSE(vhost_ring_addresses(memory_, 256, GuestAddress(0x10000),
                                    GuestAddress(0x100000 - 516), GuestAddress(0x12000)))
      << "avail_event would lie past the region";
}

TEST_F(VhostNetSetup, AFailedBackendAttachDetachesTheQueuesAttachedSoFar) {
  auto vhost = make(kVhostFeatures, VHOST_NET_SET_BACKEND);
  const Queue rx = queue(256, 0x10000, 0x11000, 0x12000);
  const Queue tx = queue(256, 0x20000, 0x21000, 0x22000);
  const std::array<VhostNet::QueueWiring, 2> wiring{
      VhostNet::QueueWiring{.queue = &rx, .kick = 10, .call = 11},
      VhostNet::QueueWiring{.queue = &tx, .kick = 12, .call = 13}};
  EXPECT_THROW(vhost->start(memory_, kVhostFeatures, wiring, 42), Error);
  log_.clear();
  vhost->stop();
  EXPECT_TRUE(log_.empty()) << "nothing was attached";
}

// A transport that has an irqfd for some queues, and records forwarded interrupts.
class IrqfdInterrupt final : public VirtioInterrupt {
 public:
  void signal_used_queue(uint16_t queue) override { signalled.push_back(queue); }
  void signal_config_change() override {}
  void set_device_needs_reset() override {}
  int queue_interrupt_eventfd(uint16_t queue) override { return irqfds.at(queue); }
  std::array<int, 2> irqfds{-1, -1};
  std::vector<uint16_t> signalled;  // loop thread; read after run_sync
};

bool can_create_taps() { return ::geteuid() == 0 && ::access("/dev/net/tun", R_OK | W_OK) == 0; }

TEST_F(VhostNetSetup, TheDeviceHandsVhostTheIrqfdOrItsOwnEventfdAndFollowsVectorChanges) {
  if (!can_create_taps()) GTEST_SKIP() << "needs root and /dev/net/tun";
  EventLoop loop;
  VhostNetDevice device(std::make_unique<TapBackend>("vmmvhosttest1"), make(),
                        MacAddress{2, 0, 0, 0, 0, 1}, loop);
  EXPECT_NE(device.features() & feature_bit(kFeatureRingEventIdx), 0U);
  EXPECT_NE(device.features() & feature_bit(kNetFeatureGuestTso4), 0U) << "the TAP's offloads";

  std::array<Queue, 2> queues{queue(256, 0x10000, 0x11000, 0x12000),
                              queue(256, 0x20000, 0x21000, 0x22000)};
  for (auto& q : queues) ASSERT_TRUE(q.enable(memory_, kVhostFeatures));
  const std::array<int, 2> kicks{30, 31};
  IrqfdInterrupt interrupt;
  interrupt.irqfds = {77, -1};  // queue 1 has no vector yet
  log_.clear();
  device.activate(ActivateContext{.memory = memory_,
                                  .queues = queues,
                                  .queue_eventfds = kicks,
                                  .features = kVhostFeatures,
                                  .interrupt = interrupt});
  std::vector<int> calls;
  for (const auto& e : log_) {
    if (e.request == VHOST_SET_VRING_CALL) calls.push_back(e.file.fd);
  }
  ASSERT_EQ(calls.size(), 2U);
  EXPECT_EQ(calls[0], 77);
  ASSERT_GE(calls[1], 0);
  EXPECT_NE(calls[1], 77);

  // What vhost signals on the device's own eventfd reaches the transport through the loop.
  const uint64_t one = 1;
  ASSERT_EQ(::write(calls[1], &one, sizeof one), static_cast<ssize_t>(sizeof one));
  for (int i = 0; i < 200 && interrupt.signalled.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    loop.run_sync([] {});
  }
  EXPECT_EQ(interrupt.signalled, (std::vector<uint16_t>{1}));

  // The driver gives queue 1 a vector: vhost is pointed at its irqfd.
  interrupt.irqfds[1] = 78;
  log_.clear();
  device.interrupt_changed(1);
  ASSERT_EQ(log_.size(), 1U);
  EXPECT_EQ(log_[0].request, VHOST_SET_VRING_CALL);
  EXPECT_EQ(log_[0].file.index, 1U);
  EXPECT_EQ(log_[0].file.fd, 78);

  log_.clear();
  device.reset();
  EXPECT_EQ(requests(), (std::vector<unsigned long>{VHOST_NET_SET_BACKEND, VHOST_NET_SET_BACKEND}));
  log_.clear();
  device.interrupt_changed(1);
  EXPECT_TRUE(log_.empty()) << "nothing to re-point after reset";
}

TEST(VhostNetOpen, AMissingDeviceSaysWhy) {
  std::string why;
  EXPECT_EQ(open_vhost_net("/nonexistent/vhost-net", why), nullptr);
  EXPECT_NE(why.find("/nonexistent/vhost-net"), std::string::npos) << why;
  EXPECT_NE(why.find("No such file"), std::string::npos) << why;
}

TEST(VhostNetFallback, WithoutVhostNetTheTapGetsTheUserSpaceDataPathAndOneWarning) {
  if (::geteuid() != 0 || ::access("/dev/net/tun", R_OK | W_OK) != 0) {
    GTEST_SKIP() << "needs root and /dev/net/tun";
  }
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  NetConfig config;
  config.kind = NetConfig::Kind::kTap;
  config.tap_name = "vmmvhosttest0";
  config.vhost = true;
  config.vhost_device = "/nonexistent/vhost-net";
  {
    EventLoop loop;
    auto device = make_net_device(config, loop, 0);
    EXPECT_NE(dynamic_cast<VirtioNet*>(device.get()), nullptr);
    EXPECT_EQ(dynamic_cast<VhostNetDevice*>(device.get()), nullptr);
  }
  spdlog::set_default_logger(previous);
  const std::string log = out.str();
  EXPECT_NE(log.find("vhost-net unavailable (/nonexistent/vhost-net: No such file or directory): "
                     "using the user-space data path"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("vhost-net unavailable"), log.rfind("vhost-net unavailable")) << log;
}

}  // namespace
}  // namespace vmm::virtio
