// The activate/reset plumbing shared by the queue-serving devices (block, net, console).
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_virtio_interrupt.hpp"
#include "support/mock_virtqueue.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/virtio/queue_device.hpp"

namespace vmm::virtio {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;

// Records which hook ran, in order, and on which thread the notifications arrived.
class ProbeDevice final : public QueueDevice {
 public:
  explicit ProbeDevice(EventLoop& loop) : QueueDevice(loop, "probe", 2), loop_(loop) {}
  ~ProbeDevice() override { reset(); }

  DeviceType device_type() const noexcept override { return DeviceType::kConsole; }
  uint64_t features() const noexcept override { return feature_bit(kFeatureVersion1); }
  std::span<const uint16_t> queue_max_sizes() const noexcept override { return sizes_; }
  void read_config(uint64_t /*offset*/, std::span<uint8_t> /*data*/) override {}
  void write_config(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) override {}

  std::vector<std::string> events() {
    std::lock_guard lock(events_mutex_);
    return events_;
  }
  int notifications(uint16_t q) const { return notified_[q].load(); }
  bool refuse = false;
  std::atomic<bool> off_loop{false};

 private:
  void record(std::string e) {
    std::lock_guard lock(events_mutex_);
    events_.push_back(std::move(e));
  }
  bool start_locked(const ActivateContext& /*context*/) override {
    record("start");
    return !refuse;
  }
  void start_host(const ActivateContext& /*context*/) override { record("start_host"); }
  void on_notify_locked(uint16_t queue) override {
    if (!loop_.in_loop_thread()) off_loop = true;
    ++notified_[queue];
  }
  void quiesce() override { record(active_now() ? "quiesce-while-active" : "quiesce"); }
  void stop_locked() override { record(queue(0) != nullptr ? "stop-with-queues" : "stop"); }
  bool active_now() {
    std::lock_guard lock(mutex());
    return active_locked();
  }

  EventLoop& loop_;
  std::array<uint16_t, 2> sizes_{16, 16};
  std::mutex events_mutex_;
  std::vector<std::string> events_;
  std::array<std::atomic<int>, 2> notified_{};
};

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 3000 && !pred(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

class QueueDeviceTest : public ::testing::Test {
 protected:
  QueueDeviceTest() {
    rx_driver_.configure(queues_[0]);
    tx_driver_.configure(queues_[1]);
    for (auto& q : queues_) EXPECT_TRUE(q.enable(mem_, device_->features()));
  }
  void activate(size_t queue_count = 2) {
    const std::array<int, 2> fds = {kick_[0].get(), kick_[1].get()};
    device_->activate(ActivateContext{mem_, std::span(queues_).first(queue_count),
                                      std::span(fds).first(queue_count), device_->features(),
                                      irq_});
  }
  void kick(int q) {
    const uint64_t one = 1;
    ASSERT_EQ(::write(kick_[q].get(), &one, sizeof one), 8);
  }

  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 4 * kMiB}});
  testing::MockVirtqueue rx_driver_{mem_, GuestAddress(0x1000), 16};
  testing::MockVirtqueue tx_driver_{mem_, GuestAddress(0x10000), 16};
  std::array<Queue, 2> queues_{Queue(16), Queue(16)};
  std::array<UniqueFd, 2> kick_{UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
                                UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))};
  testing::FakeVirtioInterrupt irq_;
  EventLoop loop_;
  std::unique_ptr<ProbeDevice> device_ = std::make_unique<ProbeDevice>(loop_);
};

TEST_F(QueueDeviceTest, FirstPassThenKicksReachTheDeviceOnTheLoop) {
  activate();
  ASSERT_TRUE(eventually([&] { return device_->notifications(0) == 1; }));
  EXPECT_EQ(device_->notifications(1), 1);  // buffers queued before DRIVER_OK are looked at
  kick(1);
  ASSERT_TRUE(eventually([&] { return device_->notifications(1) == 2; }));
  EXPECT_EQ(device_->notifications(0), 1);
  EXPECT_FALSE(device_->off_loop.load());
  EXPECT_EQ(device_->events(), (std::vector<std::string>{"start", "start_host"}));
}

TEST_F(QueueDeviceTest, ResetStopsKicksThenQuiescesThenForgetsTheQueues) {
  activate();
  ASSERT_TRUE(eventually([&] { return device_->notifications(0) == 1; }));
  device_->reset();
  EXPECT_EQ(device_->events(),
            (std::vector<std::string>{"start", "start_host", "quiesce", "stop-with-queues"}));
  kick(0);
  kick(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(device_->notifications(0), 1);
  EXPECT_EQ(device_->notifications(1), 1);
}

TEST_F(QueueDeviceTest, MissingQueuesLeaveTheDeviceStopped) {
  activate(1);
  kick(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(device_->notifications(0), 0);
  EXPECT_TRUE(device_->events().empty()) << "the device was started without its queues";
}

TEST_F(QueueDeviceTest, ARefusedStartWatchesNothing) {
  device_->refuse = true;
  activate();
  kick(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(device_->notifications(0), 0);
  EXPECT_EQ(device_->events(), std::vector<std::string>{"start"});
  device_->reset();
  EXPECT_EQ(device_->events(), (std::vector<std::string>{"start", "quiesce", "stop"}));
}

TEST_F(QueueDeviceTest, ReactivationAfterResetServesAgain) {
  activate();
  ASSERT_TRUE(eventually([&] { return device_->notifications(0) == 1; }));
  device_->reset();
  for (auto& q : queues_) EXPECT_TRUE(q.enable(mem_, device_->features()));
  activate();
  ASSERT_TRUE(eventually([&] { return device_->notifications(0) == 2; }));
  kick(0);
  ASSERT_TRUE(eventually([&] { return device_->notifications(0) == 3; }));
}

}  // namespace
}  // namespace vmm::virtio
