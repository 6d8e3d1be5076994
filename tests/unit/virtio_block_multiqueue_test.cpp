// virtio-blk with several request queues (VIRTIO_BLK_F_MQ): what the device offers, that each
// queue's requests complete on that queue, that queues run concurrently from several threads,
// and that a driver which does not bring every queue gets no service.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_virtio_interrupt.hpp"
#include "support/mock_virtqueue.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/virtio/block_device.hpp"

namespace vmm::virtio {
namespace {

using testing::FakeVirtioInterrupt;
using testing::MockVirtqueue;

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kImageSize = 8 * kMiB;
constexpr size_t kCfgNumQueues = 34;
// Per queue q: rings at kRings + q * 64 KiB, headers, status bytes and data in a 1 MiB window.
constexpr uint64_t kRings = 0x10000;
constexpr uint64_t kWindow = 0x100000;
constexpr uint64_t kWindowBase = 0x200000;

class TempImage {
 public:
  TempImage() {
    std::array<char, 64> name{};
    std::snprintf(name.data(), name.size(), "/tmp/vmm-blk-mq-test-XXXXXX");
    UniqueFd fd(::mkstemp(name.data()));
    if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(kImageSize)) != 0) {
      throw std::runtime_error("cannot create temp image");
    }
    path_ = name.data();
  }
  ~TempImage() { ::unlink(path_.c_str()); }
  TempImage(const TempImage&) = delete;
  TempImage& operator=(const TempImage&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<uint8_t> pattern(size_t len, uint32_t seed) {
  std::vector<uint8_t> v(len);
  for (size_t i = 0; i < len; ++i)
    v[i] = static_cast<uint8_t>(size_t{seed} * 31 + i * 7 + (i >> 9));
  return v;
}

// A device with `queue_count` queues; those in the `enabled` bit mask set up by a mock driver.
class MultiQueueHarness {
 public:
  MultiQueueHarness(const std::string& path, unsigned queue_count, BlockIoEngineKind engine,
                    unsigned enabled) {
    BlockDeviceConfig config;
    config.path = path;
    config.queues = queue_count;
    config.engine = engine;
    device_ = std::make_unique<VirtioBlock>(config, loop_);
    const uint64_t features = device_->features();
    queues_.reserve(queue_count);
    for (unsigned q = 0; q < queue_count; ++q) {
      drivers_.emplace_back(mem_, GuestAddress(kRings + q * 0x10000ULL), 64);
      queues_.emplace_back(VirtioBlock::kQueueSize);
      kicks_.emplace_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      kick_fds_.push_back(kicks_.back().get());
    }
    for (unsigned q = 0; q < queue_count; ++q) {
      if ((enabled & (1U << q)) == 0) continue;
      drivers_[q].configure(queues_[q]);
      if (!queues_[q].enable(mem_, features)) throw std::runtime_error("queue refused");
    }
    device_->activate(ActivateContext{mem_, std::span<Queue>(queues_.data(), queues_.size()),
                                      kick_fds_, features, irq_});
  }
  ~MultiQueueHarness() { device_->reset(); }
  MultiQueueHarness(const MultiQueueHarness&) = delete;
  MultiQueueHarness& operator=(const MultiQueueHarness&) = delete;

  static uint64_t header(unsigned q, unsigned slot) { return window(q) + slot * 16ULL; }
  static uint64_t status(unsigned q, unsigned slot) { return window(q) + 0x1000 + slot; }
  static uint64_t data(unsigned q, unsigned slot) { return window(q) + 0x10000 + slot * 4096ULL; }

  // Publishes `count` requests of 4 KiB on queue q (sectors from `first_sector`), kicks and
  // waits for them all; false when the device did not complete them in time.
  bool run_batch(unsigned q, uint32_t type, uint64_t first_sector, unsigned count) {
    MockVirtqueue& d = drivers_[q];
    d.set_next_free_desc(0);
    const uint16_t expected = static_cast<uint16_t>(d.used_idx() + count);
    for (unsigned i = 0; i < count; ++i) {
      const GuestAddress h(header(q, i));
      if (!mem_.write_obj(h, type) || !mem_.write_obj(h + 4, uint32_t{0}) ||
          !mem_.write_obj(h + 8, first_sector + i * 8ULL) ||
          !mem_.write_obj(GuestAddress(status(q, i)), uint8_t{0xee})) {
        return false;
      }
      d.add_chain({{header(q, i), 16, false},
                   {data(q, i), 4096, type == kBlkTypeIn},
                   {status(q, i), 1, true}});
    }
    kick(q);
    return wait_used(q, expected);
  }

  void kick(unsigned q) const {
    const uint64_t one = 1;
    EXPECT_EQ(::write(kick_fds_[q], &one, sizeof one), 8);
  }
  bool wait_used(unsigned q, uint16_t idx, int timeout_ms = 5000) const {
    for (int i = 0; i < timeout_ms && drivers_[q].used_idx() != idx; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return drivers_[q].used_idx() == idx;
  }
  // The interrupt follows the used entries, from the device's thread.
  bool wait_signal(unsigned q, int timeout_ms = 5000) const {
    for (int i = 0; i < timeout_ms && irq_.signals_per_queue[q].load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return irq_.signals_per_queue[q].load() > 0;
  }
  [[nodiscard]] uint8_t status_byte(unsigned q, unsigned slot) const {
    return *mem_.read_obj<uint8_t>(GuestAddress(status(q, slot)));
  }

  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 32 * kMiB}});
  std::deque<MockVirtqueue> drivers_;
  std::vector<Queue> queues_;  // reserved up front: the device keeps a span of them
  std::vector<UniqueFd> kicks_;
  std::vector<int> kick_fds_;
  FakeVirtioInterrupt irq_;
  EventLoop loop_;
  std::unique_ptr<VirtioBlock> device_;

 private:
  static uint64_t window(unsigned q) { return kWindowBase + q * kWindow; }
};

class VirtioBlockMultiQueueTest : public ::testing::TestWithParam<BlockIoEngineKind> {
 protected:
  TempImage image_;
};

TEST_P(VirtioBlockMultiQueueTest, OffersTheConfiguredQueues) {
  for (const unsigned n : {1U, 2U, 4U, 16U}) {
    BlockDeviceConfig config;
    config.path = image_.path();
    config.queues = n;
    config.engine = GetParam();
    EventLoop loop;
    VirtioBlock device(config, loop);
    EXPECT_EQ(device.queue_max_sizes().size(), n);
    std::array<uint8_t, 2> word{};
    device.read_config(kCfgNumQueues, word);
    EXPECT_EQ(word[0] | (word[1] << 8), static_cast<int>(n));
    EXPECT_EQ((device.features() & feature_bit(kBlkFeatureMq)) != 0, n > 1) << n << " queues";
  }
}

TEST_P(VirtioBlockMultiQueueTest, RefusesQueueCountsOutOfRange) {
  for (const unsigned n : {17U, 1000U}) {
    BlockDeviceConfig config;
    config.path = image_.path();
    config.queues = n;
    config.engine = GetParam();
    EventLoop loop;
    EXPECT_THROW(VirtioBlock(config, loop), ConfigError) << n;
  }
}

// 0 is the VM's "one per vCPU", sized before the device is built; a device alone has one.
TEST_P(VirtioBlockMultiQueueTest, AnUnsizedDiskBuiltAloneHasOneQueueAndNoMq) {
  BlockDeviceConfig config;
  config.path = image_.path();
  config.queues = 0;
  config.engine = GetParam();
  EventLoop loop;
  const VirtioBlock disk(config, loop);
  EXPECT_EQ(disk.request_queue_count(), 1u);
  EXPECT_EQ(disk.features() & feature_bit(kBlkFeatureMq), 0u);
}

TEST_P(VirtioBlockMultiQueueTest, RequestsCompleteOnTheirOwnQueue) {
  MultiQueueHarness h(image_.path(), 3, GetParam(), 0b111);
  const auto data = pattern(4096, 5);
  ASSERT_TRUE(h.mem_.write(GuestAddress(MultiQueueHarness::data(1, 0)), data));
  ASSERT_TRUE(h.run_batch(1, kBlkTypeOut, 64, 1));
  EXPECT_EQ(h.status_byte(1, 0), kBlkStatusOk);
  EXPECT_EQ(h.drivers_[0].used_idx(), 0);
  EXPECT_EQ(h.drivers_[2].used_idx(), 0);
  EXPECT_TRUE(h.wait_signal(1));
  EXPECT_EQ(h.irq_.signals_per_queue[0].load(), 0);
  EXPECT_EQ(h.irq_.signals_per_queue[2].load(), 0);

  // Read it back on queue 2: same disk, other queue.
  ASSERT_TRUE(h.run_batch(2, kBlkTypeIn, 64, 1));
  EXPECT_EQ(h.status_byte(2, 0), kBlkStatusOk);
  std::vector<uint8_t> back(4096);
  ASSERT_TRUE(h.mem_.read(GuestAddress(MultiQueueHarness::data(2, 0)), back));
  EXPECT_EQ(back, data);
  EXPECT_EQ(h.drivers_[1].used_idx(), 1);
  EXPECT_TRUE(h.wait_signal(2));
  EXPECT_EQ(h.irq_.signals_per_queue[0].load(), 0);
}

TEST_P(VirtioBlockMultiQueueTest, QueuesRunConcurrentlyFromSeveralThreads) {
  constexpr unsigned kQueues = 4;
  constexpr unsigned kBatches = 8;
  constexpr unsigned kPerBatch = 16;  // 48 of 64 descriptors
  MultiQueueHarness h(image_.path(), kQueues, GetParam(), 0b1111);
  // Each queue owns its own disk region: queue q, batch b, request i at a distinct sector.
  auto sector = [](unsigned q, unsigned b, unsigned i) {
    return ((q * kBatches + b) * kPerBatch + i) * 8ULL;
  };
  std::vector<std::thread> drivers;
  std::array<std::atomic<bool>, kQueues> ok{};
  for (unsigned q = 0; q < kQueues; ++q) {
    drivers.emplace_back([&, q] {
      bool good = true;
      for (unsigned b = 0; b < kBatches && good; ++b) {
        for (unsigned i = 0; i < kPerBatch; ++i) {
          good = good && h.mem_.write(GuestAddress(MultiQueueHarness::data(q, i)),
                                      pattern(4096, (q << 16) | (b << 8) | i));
        }
        good = good && h.run_batch(q, kBlkTypeOut, sector(q, b, 0), kPerBatch);
        for (unsigned i = 0; i < kPerBatch; ++i) good = good && h.status_byte(q, i) == 0;
      }
      ok[q] = good;
    });
  }
  for (auto& t : drivers) t.join();
  for (unsigned q = 0; q < kQueues; ++q) ASSERT_TRUE(ok[q]) << "queue " << q;

  // Read every region back through a different queue than the one that wrote it.
  drivers.clear();
  for (unsigned q = 0; q < kQueues; ++q) {
    drivers.emplace_back([&, q] {
      const unsigned writer = (q + 1) % kQueues;
      bool good = true;
      std::vector<uint8_t> back(4096);
      for (unsigned b = 0; b < kBatches && good; ++b) {
        good = h.run_batch(q, kBlkTypeIn, sector(writer, b, 0), kPerBatch);
        for (unsigned i = 0; i < kPerBatch && good; ++i) {
          good = h.status_byte(q, i) == 0 &&
                 h.mem_.read(GuestAddress(MultiQueueHarness::data(q, i)), back) &&
                 back == pattern(4096, (writer << 16) | (b << 8) | i);
        }
      }
      ok[q] = good;
    });
  }
  for (auto& t : drivers) t.join();
  for (unsigned q = 0; q < kQueues; ++q) EXPECT_TRUE(ok[q]) << "queue " << q;
  for (unsigned q = 0; q < kQueues; ++q) {
    EXPECT_EQ(h.drivers_[q].used_idx(), 2 * kBatches * kPerBatch);
    EXPECT_TRUE(h.wait_signal(q));
  }
}

TEST_P(VirtioBlockMultiQueueTest, DriverMayUseFewerQueuesThanOffered) {
  // 4 offered, the driver (one vCPU, say) enables only the first 2.
  MultiQueueHarness h(image_.path(), 4, GetParam(), 0b0011);
  const auto data = pattern(4096, 11);
  ASSERT_TRUE(h.mem_.write(GuestAddress(MultiQueueHarness::data(0, 0)), data));
  ASSERT_TRUE(h.run_batch(0, kBlkTypeOut, 8, 1));
  EXPECT_EQ(h.status_byte(0, 0), kBlkStatusOk);
  ASSERT_TRUE(h.run_batch(1, kBlkTypeIn, 8, 1));
  EXPECT_EQ(h.status_byte(1, 0), kBlkStatusOk);
  std::vector<uint8_t> back(4096);
  ASSERT_TRUE(h.mem_.read(GuestAddress(MultiQueueHarness::data(1, 0)), back));
  EXPECT_EQ(back, data);
  // A kick on a queue the driver never enabled reaches nothing.
  h.kick(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(h.irq_.signals_per_queue[3].load(), 0);
}

TEST_P(VirtioBlockMultiQueueTest, DriverWithoutTheFirstQueueGetsNoService) {
  MultiQueueHarness h(image_.path(), 3, GetParam(), 0b110);
  ASSERT_TRUE(h.mem_.write_obj(GuestAddress(MultiQueueHarness::header(1, 0)), kBlkTypeIn));
  h.drivers_[1].add_chain({{MultiQueueHarness::header(1, 0), 16, false},
                           {MultiQueueHarness::data(1, 0), 4096, true},
                           {MultiQueueHarness::status(1, 0), 1, true}});
  h.kick(1);
  EXPECT_FALSE(h.wait_used(1, 1, 300));
  EXPECT_EQ(h.irq_.used_signals.load(), 0);
}

TEST_P(VirtioBlockMultiQueueTest, ResetWithRequestsInFlightOnEveryQueue) {
  constexpr unsigned kQueues = 4;
  auto h = std::make_unique<MultiQueueHarness>(image_.path(), kQueues, GetParam(), 0b1111);
  for (unsigned q = 0; q < kQueues; ++q) {
    for (unsigned i = 0; i < 16; ++i) {
      const GuestAddress hdr(MultiQueueHarness::header(q, i));
      ASSERT_TRUE(h->mem_.write_obj(hdr, kBlkTypeIn));
      ASSERT_TRUE(h->mem_.write_obj(hdr + 8, uint64_t{i} * 8));
      h->drivers_[q].add_chain({{MultiQueueHarness::header(q, i), 16, false},
                                {MultiQueueHarness::data(q, i), 4096, true},
                                {MultiQueueHarness::status(q, i), 1, true}});
    }
    h->kick(q);
  }
  h->device_->reset();  // must wait for or drop every request, on every queue, without a crash
  h.reset();
}

INSTANTIATE_TEST_SUITE_P(Engines, VirtioBlockMultiQueueTest,
                         ::testing::Values(BlockIoEngineKind::kIoUring,
                                           BlockIoEngineKind::kThreadPool),
                         [](const auto& param_info) {
                           return param_info.param == BlockIoEngineKind::kIoUring ? "IoUring"
                                                                                  : "ThreadPool";
                         });

}  // namespace
}  // namespace vmm::virtio
