#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "support/fake_virtio_interrupt.hpp"
#include "support/mock_virtqueue.hpp"
#include "support/recording_console_output.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/virtio/console_device.hpp"

namespace vmm::virtio {
namespace {

using testing::MockVirtqueue;

constexpr uint64_t kMiB = 1ULL << 20;

using RecordingOutput = testing::RecordingConsoleOutput;

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 3000 && !pred(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

class ConsoleTest : public ::testing::Test {
 protected:
  ConsoleTest() {
    rx_driver_.configure(queues_[0]);
    tx_driver_.configure(queues_[1]);
    for (auto& q : queues_) EXPECT_TRUE(q.enable(mem_, console_->features()));
    const int fds[] = {rx_kick_.get(), tx_kick_.get()};
    console_->activate(ActivateContext{mem_, queues_, fds, console_->features(), irq_});
  }
  ~ConsoleTest() override { console_->reset(); }

  static void kick(const UniqueFd& fd) {
    const uint64_t one = 1;
    ASSERT_EQ(::write(fd.get(), &one, sizeof one), 8);
  }
  void guest_writes(uint64_t addr, const std::string& s) {
    ASSERT_TRUE(mem_.write(GuestAddress(addr),
                           std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size())));
    tx_driver_.add_chain({{addr, static_cast<uint32_t>(s.size()), false}});
  }
  std::string guest_reads(uint64_t addr, size_t len) {
    std::string s(len, '\0');
    EXPECT_TRUE(
        mem_.read(GuestAddress(addr), std::span(reinterpret_cast<uint8_t*>(s.data()), len)));
    return s;
  }

  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 4 * kMiB}});
  MockVirtqueue rx_driver_{mem_, GuestAddress(0x1000), 16};
  MockVirtqueue tx_driver_{mem_, GuestAddress(0x10000), 16};
  std::array<Queue, 2> queues_{Queue(VirtioConsole::kQueueSize), Queue(VirtioConsole::kQueueSize)};
  UniqueFd rx_kick_{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  UniqueFd tx_kick_{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  testing::FakeVirtioInterrupt irq_;
  RecordingOutput output_;
  EventLoop loop_;
  std::unique_ptr<VirtioConsole> console_ = std::make_unique<VirtioConsole>(output_, loop_);
};

TEST_F(ConsoleTest, GuestOutputReachesTheSink) {
  EXPECT_EQ(console_->device_type(), DeviceType::kConsole);
  guest_writes(0x100000, "hello ");
  guest_writes(0x100100, "world\n");
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return tx_driver_.used_idx() == 2; }));
  EXPECT_EQ(output_.text(), "hello world\n");
  EXPECT_GT(irq_.used_signals.load(), 0);
}

TEST_F(ConsoleTest, InputWaitsForReceiveBuffers) {
  const std::string line = "ls -l\n";
  EXPECT_EQ(
      console_->push_input(std::span(reinterpret_cast<const uint8_t*>(line.data()), line.size())),
      line.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(rx_driver_.used_idx(), 0);  // no buffers yet: held, not dropped
  rx_driver_.add_chain({{0x200000, 4, true}});
  rx_driver_.add_chain({{0x200100, 64, true}});
  kick(rx_kick_);
  ASSERT_TRUE(eventually([&] { return rx_driver_.used_idx() == 2; }));
  EXPECT_EQ(rx_driver_.used_elem(0).len, 4u);
  EXPECT_EQ(rx_driver_.used_elem(1).len, 2u);
  EXPECT_EQ(guest_reads(0x200000, 4) + guest_reads(0x200100, 2), line);
}

TEST_F(ConsoleTest, InputBufferIsBounded) {
  std::vector<uint8_t> big(VirtioConsole::kInputBufferSize + 100, 'x');
  EXPECT_EQ(console_->push_input(big), VirtioConsole::kInputBufferSize);
  EXPECT_EQ(console_->push_input(big), 0u);
}

TEST_F(ConsoleTest, QueuedOutputIsWrittenOnReset) {
  guest_writes(0x100000, "last words");  // published, never kicked
  console_->reset();
  EXPECT_EQ(output_.text(), "last words");
  EXPECT_GT(output_.flushes(), 0);
}

TEST_F(ConsoleTest, EmergencyWrite) {
  EXPECT_NE(console_->features() & feature_bit(kConsoleFeatureEmergWrite), 0u);
  const uint32_t c = '!';
  console_->write_config(8, std::span(reinterpret_cast<const uint8_t*>(&c), 4));
  EXPECT_EQ(output_.text(), "!");
}

TEST_F(ConsoleTest, HostileTransmitChainNeedsReset) {
  tx_driver_.set_desc(0, 0x100000, 8, kDescFlagNext, 0);  // loops on itself
  tx_driver_.publish(0);
  kick(tx_kick_);
  ASSERT_TRUE(eventually([&] { return irq_.needs_reset.load(); }));
  EXPECT_TRUE(queues_[1].broken());
}

TEST(FdConsoleOutput, WritesEverything) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd r(fds[0]);
  UniqueFd w(fds[1]);
  FdConsoleOutput out(w.get());
  const std::string s = "guest says hi";
  out.write(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  std::string got(s.size(), '\0');
  ASSERT_EQ(::read(r.get(), got.data(), got.size()), static_cast<ssize_t>(s.size()));
  EXPECT_EQ(got, s);
}

}  // namespace
}  // namespace vmm::virtio
