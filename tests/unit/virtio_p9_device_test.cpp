// virtio-9p: the configuration space carries the mount tag; requests taken from the queue
// (split over any number of descriptors) reach the file server and replies come back in the
// chain's writable buffers; hostile chains put the device in need of a reset, never a crash.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_virtio_interrupt.hpp"
#include "support/mock_virtqueue.hpp"
#include "support/p9_messages.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/virtio/p9_device.hpp"

namespace vmm::virtio {
namespace {

namespace fs = std::filesystem;
using test::P9Message;
using test::P9Reply;
using testing::MockVirtqueue;

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kRequestArea = 0x100000;
constexpr uint64_t kReplyArea = 0x200000;

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 3000 && !pred(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

class VirtioP9Test : public ::testing::Test {
 protected:
  VirtioP9Test() {
    std::string tmpl = (fs::temp_directory_path() / "vmm-p9dev-XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "hello.txt") << "hello from the host";
  }
  ~VirtioP9Test() override {
    if (device_) device_->reset();
    device_.reset();
    fs::remove_all(dir_);
  }

  void start(bool read_only = false) {
    device_ = std::make_unique<VirtioP9>(
        ShareConfig{.path = dir_, .tag = "hostshare", .read_only = read_only}, loop_);
    driver_.configure(queues_[0]);
    ASSERT_TRUE(queues_[0].enable(mem_, device_->features()));
    const int fds[] = {kick_.get()};
    device_->activate(ActivateContext{mem_, queues_, fds, device_->features(), irq_});
  }

  void kick() {
    const uint64_t one = 1;
    ASSERT_EQ(::write(kick_.get(), &one, sizeof one), 8);
  }

  // Sends one request, its bytes split into `pieces` readable buffers, with the reply room
  // split into two writable buffers of `reply_room` bytes in all; returns the reply.
  P9Reply exchange(const P9Message& m, size_t pieces = 1, uint32_t reply_room = 8192) {
    const std::vector<uint8_t> bytes = m.done();
    EXPECT_TRUE(mem_.write(GuestAddress(kRequestArea), bytes));
    const uint16_t before = driver_.used_idx();
    const auto len = static_cast<uint32_t>(bytes.size());
    const uint32_t first = pieces > 1 ? len / 2 : len;
    const uint32_t half = reply_room / 2;
    if (pieces > 1) {
      driver_.add_chain({{kRequestArea, first, false},
                         {kRequestArea + first, len - first, false},
                         {kReplyArea, half, true},
                         {kReplyArea + half, reply_room - half, true}});
    } else {
      driver_.add_chain({{kRequestArea, len, false},
                         {kReplyArea, half, true},
                         {kReplyArea + half, reply_room - half, true}});
    }
    kick();
    EXPECT_TRUE(eventually([&] { return driver_.used_idx() != before; }));
    const uint32_t used = driver_.used_elem(before).len;
    std::vector<uint8_t> reply(used);
    EXPECT_TRUE(mem_.read(GuestAddress(kReplyArea), reply));
    last_used_len_ = used;
    return P9Reply(reply);
  }

  fs::path dir_;
  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 4 * kMiB}});
  MockVirtqueue driver_{mem_, GuestAddress(0x1000), 64};
  std::array<Queue, 1> queues_{Queue(VirtioP9::kQueueSize)};
  UniqueFd kick_{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  testing::FakeVirtioInterrupt irq_;
  EventLoop loop_;
  std::unique_ptr<VirtioP9> device_;
  uint32_t last_used_len_ = 0;
};

TEST_F(VirtioP9Test, ConfigSpaceHoldsTheMountTag) {
  start();
  EXPECT_EQ(device_->device_type(), DeviceType::k9p);
  EXPECT_NE(device_->features() & feature_bit(k9pFeatureMountTag), 0U);
  EXPECT_NE(device_->features() & feature_bit(kFeatureVersion1), 0U);
  std::array<uint8_t, 2 + 9 + 3> config{};
  device_->read_config(0, config);
  EXPECT_EQ(config[0] | config[1] << 8, 9);
  EXPECT_EQ(std::string(config.begin() + 2, config.begin() + 11), "hostshare");
  EXPECT_EQ(config[11], 0);  // past the end reads as zero
}

TEST_F(VirtioP9Test, BadShareOrTagIsAConfigError) {
  EXPECT_THROW(VirtioP9(ShareConfig{.path = dir_ / "missing", .tag = "t"}, loop_), ConfigError);
  EXPECT_THROW(VirtioP9(ShareConfig{.path = dir_, .tag = ""}, loop_), ConfigError);
  EXPECT_THROW(VirtioP9(ShareConfig{.path = dir_, .tag = std::string(65, 'x')}, loop_),
               ConfigError);
}

TEST_F(VirtioP9Test, SessionReadsAHostFileThroughTheQueue) {
  start();
  P9Reply v = exchange(P9Message(p9::kTversion, p9::kNoTag).u32(65536).str("9P2000.L"));
  ASSERT_EQ(v.type, p9::kRversion);
  EXPECT_EQ(v.u32(), 65536U);
  // Requests split over two readable descriptors, replies over two writable ones.
  P9Reply a =
      exchange(P9Message(p9::kTattach, 1).u32(0).u32(p9::kNoFid).str("u").str("").u32(0), 2);
  ASSERT_EQ(a.type, p9::kRattach);
  P9Reply w = exchange(P9Message(p9::kTwalk, 2).u32(0).u32(1).u16(1).str("hello.txt"), 2);
  ASSERT_EQ(w.type, p9::kRwalk);
  ASSERT_EQ(exchange(P9Message(p9::kTlopen, 3).u32(1).u32(0)).type, p9::kRlopen);
  // 20-byte reply room in two 10-byte buffers: the reply spans both.
  P9Reply r = exchange(P9Message(p9::kTread, 4).u32(1).u64(0).u32(100), 1, 20);
  ASSERT_EQ(r.type, p9::kRread);
  const uint32_t n = r.u32();
  EXPECT_EQ(n, 20U - p9::kIoHeaderSize);
  const auto data = r.bytes(n);
  EXPECT_EQ(std::string(data.begin(), data.end()), std::string("hello from the host").substr(0, n));
  EXPECT_GT(irq_.used_signals.load(), 0);
  EXPECT_FALSE(irq_.needs_reset.load());
}

TEST_F(VirtioP9Test, TooLittleReplyRoomGivesAnEmptyReply) {
  start();
  (void)exchange(P9Message(p9::kTversion, p9::kNoTag).u32(65536).str("9P2000.L"), 1, 8);
  EXPECT_EQ(last_used_len_, 0U);
  EXPECT_FALSE(irq_.needs_reset.load());
}

TEST_F(VirtioP9Test, GarbageGetsRlerrorAndTheQueueGoesOn) {
  start();
  P9Reply bad = exchange(P9Message(250, 9).u32(1));
  EXPECT_EQ(bad.type, p9::kRlerror);
  EXPECT_EQ(bad.tag, 9);
  P9Reply v = exchange(P9Message(p9::kTversion, p9::kNoTag).u32(65536).str("9P2000.L"));
  EXPECT_EQ(v.type, p9::kRversion);
}

TEST_F(VirtioP9Test, MoreRequestsThanTheInFlightCapAreAllAnswered) {
  start();
  const std::vector<uint8_t> bytes =
      P9Message(p9::kTversion, p9::kNoTag).u32(65536).str("9P2000.L").done();
  ASSERT_TRUE(mem_.write(GuestAddress(kRequestArea), bytes));
  constexpr uint16_t kRequests = VirtioP9::kMaxInFlight + 8;
  for (uint16_t i = 0; i < kRequests; ++i) {
    driver_.add_chain({{kRequestArea, static_cast<uint32_t>(bytes.size()), false},
                       {kReplyArea + i * 256ULL, 256, true}});
  }
  kick();
  ASSERT_TRUE(eventually([&] { return driver_.used_idx() == kRequests; }));
  for (uint16_t i = 0; i < kRequests; ++i) {
    std::vector<uint8_t> reply(32);
    ASSERT_TRUE(mem_.read(GuestAddress(kReplyArea + i * 256ULL), reply));
    EXPECT_EQ(P9Reply(reply).type, p9::kRversion) << i;
  }
}

TEST_F(VirtioP9Test, WritableBeforeReadableNeedsReset) {
  start();
  driver_.add_chain({{kReplyArea, 100, true}, {kRequestArea, 20, false}});
  kick();
  EXPECT_TRUE(eventually([&] { return irq_.needs_reset.load(); }));
}

TEST_F(VirtioP9Test, ResetWithRequestsQueuedIsClean) {
  start();
  const std::vector<uint8_t> bytes =
      P9Message(p9::kTversion, p9::kNoTag).u32(65536).str("9P2000.L").done();
  ASSERT_TRUE(mem_.write(GuestAddress(kRequestArea), bytes));
  for (int i = 0; i < 8; ++i) {
    driver_.add_chain({{kRequestArea, static_cast<uint32_t>(bytes.size()), false},
                       {kReplyArea + i * 256ULL, 256, true}});
  }
  kick();
  device_->reset();
  const uint16_t used = driver_.used_idx();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(driver_.used_idx(), used);  // nothing touched the rings after reset()
}

}  // namespace
}  // namespace vmm::virtio
