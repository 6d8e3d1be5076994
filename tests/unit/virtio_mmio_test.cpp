#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "support/mock_virtqueue.hpp"
#include "support/recording_console_output.hpp"
#include "support/recording_irq_line.hpp"
#include "vmm/virtio/console_device.hpp"
#include "vmm/virtio/mmio_transport.hpp"

namespace vmm::virtio {
namespace {

using testing::MockVirtqueue;

using RecordingIrq = vmm::testing::RecordingIrqLine;
using StringOutput = testing::RecordingConsoleOutput;

class MmioTest : public ::testing::Test {
 protected:
  uint32_t rd(uint64_t off) {
    std::array<uint8_t, 4> b{};
    mmio_->read(off, b);
    uint32_t v = 0;
    std::memcpy(&v, b.data(), 4);
    return v;
  }
  void wr(uint64_t off, uint32_t v) {
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &v, 4);
    mmio_->write(off, b);
  }
  void setup_queue(uint16_t index, const MockVirtqueue& q) {
    wr(0x30, index);
    EXPECT_EQ(rd(0x34), VirtioConsole::kQueueSize);
    wr(0x38, q.size());
    wr(0x80, static_cast<uint32_t>(q.desc_table().raw));
    wr(0x84, 0);
    wr(0x90, static_cast<uint32_t>(q.avail_ring().raw));
    wr(0x94, 0);
    wr(0xa0, static_cast<uint32_t>(q.used_ring().raw));
    wr(0xa4, 0);
    wr(0x44, 1);
  }
  // The Linux driver's initialisation sequence (3.1.1).
  void initialise() {
    wr(0x70, kStatusAcknowledge);
    wr(0x70, kStatusAcknowledge | kStatusDriver);
    wr(0x14, 0);
    const uint32_t lo = rd(0x10);
    wr(0x14, 1);
    const uint32_t hi = rd(0x10);
    wr(0x24, 0);
    wr(0x20, lo);
    wr(0x24, 1);
    wr(0x20, hi);
    wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    ASSERT_NE(rd(0x70) & kStatusFeaturesOk, 0u);
    setup_queue(0, rx_);
    setup_queue(1, tx_);
    wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }

  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 4 << 20}});
  MockVirtqueue rx_{mem_, GuestAddress(0x1000), 16};
  MockVirtqueue tx_{mem_, GuestAddress(0x10000), 16};
  RecordingIrq irq_;
  StringOutput output_;
  EventLoop loop_;
  std::shared_ptr<VirtioConsole> console_ = std::make_shared<VirtioConsole>(output_, loop_);
  std::unique_ptr<VirtioMmioTransport> mmio_ =
      std::make_unique<VirtioMmioTransport>(console_, mem_, irq_);
};

TEST_F(MmioTest, IdentificationRegisters) {
  EXPECT_EQ(rd(0x000), 0x74726976u);
  EXPECT_EQ(rd(0x004), 2u);
  EXPECT_EQ(rd(0x008), 3u);  // console
  wr(0x14, 1);
  EXPECT_EQ(rd(0x010), 1u);  // VERSION_1 in the high word
  std::array<uint8_t, 2> narrow{0xaa, 0xaa};
  mmio_->read(0x000, narrow);  // registers are 32-bit only
  EXPECT_EQ(narrow[0], 0);
}

TEST_F(MmioTest, DriverInitialisationAndTransmit) {
  initialise();
  EXPECT_NE(rd(0x70) & kStatusDriverOk, 0u);
  const std::string s = "mmio says hi\n";
  ASSERT_TRUE(mem_.write(GuestAddress(0x200000),
                         std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size())));
  tx_.add_chain({{0x200000, static_cast<uint32_t>(s.size()), false}});
  wr(0x50, 1);  // QueueNotify for the transmit queue
  for (int i = 0; i < 3000 && tx_.used_idx() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(tx_.used_idx(), 1);
  EXPECT_EQ(output_.text(), s);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(rd(0x60) & 1u, 1u);
  wr(0x64, 1);
  EXPECT_EQ(rd(0x60), 0u);
  EXPECT_FALSE(irq_.level());

  wr(0x70, 0);  // reset
  EXPECT_EQ(rd(0x70), 0u);
  wr(0x30, 0);
  EXPECT_EQ(rd(0x44), 0u);
}

TEST_F(MmioTest, RingsOutsideRamSetNeedsReset) {
  wr(0x70, kStatusAcknowledge);
  wr(0x70, kStatusAcknowledge | kStatusDriver);
  wr(0x24, 1);
  wr(0x20, 1);
  wr(0x70, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  wr(0x30, 0);
  wr(0x38, 16);
  wr(0x80, 0);
  wr(0x84, 0x10);  // 64 GiB: no RAM there
  wr(0x44, 1);
  EXPECT_EQ(rd(0x44), 0u);
  EXPECT_NE(rd(0x70) & kStatusDeviceNeedsReset, 0u);
  EXPECT_EQ(rd(0x60) & 2u, 2u);
  EXPECT_TRUE(irq_.level());
}

TEST_F(MmioTest, QueueConfigFrozenAfterDriverOk) {
  initialise();
  wr(0x30, 0);
  wr(0x38, 4);
  wr(0x80, 0x5000);
  EXPECT_EQ(rd(0x44), 1u);
  // The queue still works with the original layout: input reaches the guest.
  rx_.add_chain({{0x300000, 8, true}});
  const std::string in = "hi";
  console_->push_input(std::span(reinterpret_cast<const uint8_t*>(in.data()), in.size()));
  for (int i = 0; i < 3000 && rx_.used_idx() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(rx_.used_idx(), 1);
}

}  // namespace
}  // namespace vmm::virtio
