#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
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

using testing::Buffer;
using testing::FakeVirtioInterrupt;
using testing::MockVirtqueue;

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kImageSize = 4 * kMiB;
constexpr uint64_t kHeader = 0x100000;  // request headers
constexpr uint64_t kStatus = 0x110000;  // status bytes
constexpr uint64_t kData = 0x200000;    // data buffers

// A temporary raw image, removed at the end of the test.
class TempImage {
 public:
  explicit TempImage(uint64_t size) {
    std::array<char, 64> name{};
    std::snprintf(name.data(), name.size(), "/tmp/vmm-blk-test-XXXXXX");
    UniqueFd fd(::mkstemp(name.data()));
    if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
      throw std::runtime_error("cannot create temp image");
    }
    path_ = name.data();
  }
  ~TempImage() { ::unlink(path_.c_str()); }
  TempImage(const TempImage&) = delete;
  TempImage& operator=(const TempImage&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::vector<uint8_t> read(uint64_t offset, size_t len) const {
    std::vector<uint8_t> out(len);
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(::pread(fd.get(), out.data(), len, static_cast<off_t>(offset)),
              static_cast<ssize_t>(len));
    return out;
  }
  void write(uint64_t offset, const std::vector<uint8_t>& data) const {
    UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_EQ(::pwrite(fd.get(), data.data(), data.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(data.size()));
  }
  [[nodiscard]] uint64_t allocated_bytes() const {
    struct stat st {};
    EXPECT_EQ(::stat(path_.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

 private:
  std::string path_;
};

std::vector<uint8_t> pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> v(len);
  for (size_t i = 0; i < len; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
  return v;
}

// A guest with one virtio-blk device, its request queue driven by a mock driver.
class BlockHarness {
 public:
  BlockHarness(const TempImage& image, BlockDeviceConfig config)
      : driver_(mem_, GuestAddress(0x1000), 64),
        queue_(VirtioBlock::kQueueSize),
        kick_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    config.path = image.path();
    device_ = std::make_unique<VirtioBlock>(config, loop_);
    driver_.configure(queue_);
    const uint64_t features = device_->features();
    if (!queue_.enable(mem_, features)) throw std::runtime_error("queue refused");
    const int fds[] = {kick_.get()};
    device_->activate(ActivateContext{mem_, std::span<Queue>(&queue_, 1), fds, features, irq_});
  }
  ~BlockHarness() { device_->reset(); }

  void write_header(uint64_t slot, uint32_t type, uint64_t sector) {
    const GuestAddress h(kHeader + slot * 16);
    ASSERT_TRUE(mem_.write_obj(h, type));
    ASSERT_TRUE(mem_.write_obj(h + 4, uint32_t{0}));
    ASSERT_TRUE(mem_.write_obj(h + 8, sector));
    ASSERT_TRUE(mem_.write_obj(GuestAddress(kStatus + slot), uint8_t{0xee}));
  }

  // Publishes a chain and kicks; waits until the device used it. Returns the used element.
  testing::UsedElem submit(std::initializer_list<Buffer> chain) {
    const uint16_t expected = static_cast<uint16_t>(driver_.used_idx() + 1);
    driver_.add_chain(chain);
    kick();
    wait_used(expected);
    return driver_.used_elem(static_cast<uint16_t>(expected - 1));
  }

  // Header (readable) + data + status (writable) for IN/OUT/...; returns the status byte.
  uint8_t request(uint32_t type, uint64_t sector, uint64_t data_addr, uint32_t data_len,
                  bool data_writable, uint32_t* used_len = nullptr) {
    write_header(0, type, sector);
    testing::UsedElem used{};
    if (data_len == 0) {
      used = submit({{kHeader, 16, false}, {kStatus, 1, true}});
    } else {
      used =
          submit({{kHeader, 16, false}, {data_addr, data_len, data_writable}, {kStatus, 1, true}});
    }
    if (used_len != nullptr) *used_len = used.len;
    return *mem_.read_obj<uint8_t>(GuestAddress(kStatus));
  }

  void kick() {
    const uint64_t one = 1;
    ASSERT_EQ(::write(kick_.get(), &one, sizeof one), 8);
  }
  void wait_used(uint16_t idx) {
    for (int i = 0; i < 5000 && driver_.used_idx() != idx; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(driver_.used_idx(), idx) << "device did not complete the request";
  }

  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 8 * kMiB}});
  MockVirtqueue driver_;
  Queue queue_;
  UniqueFd kick_;
  FakeVirtioInterrupt irq_;
  EventLoop loop_;
  std::unique_ptr<VirtioBlock> device_;
};

class VirtioBlockTest : public ::testing::TestWithParam<BlockIoEngineKind> {
 protected:
  BlockDeviceConfig config(bool read_only = false) {
    BlockDeviceConfig c;
    c.read_only = read_only;
    c.serial = "vmm-serial-0001";
    c.engine = GetParam();
    return c;
  }
  TempImage image_{kImageSize};
};

TEST_P(VirtioBlockTest, ConfigSpaceAndFeatures) {
  BlockHarness h(image_, config());
  EXPECT_EQ(h.device_->capacity_sectors(), kImageSize / 512);
  std::array<uint8_t, 8> cap{};
  h.device_->read_config(0, cap);
  uint64_t capacity = 0;
  std::memcpy(&capacity, cap.data(), 8);
  EXPECT_EQ(capacity, kImageSize / 512);
  std::array<uint8_t, 4> word{};
  h.device_->read_config(12, word);
  EXPECT_EQ(word[0], kBlkMaxSegments);
  h.device_->read_config(1000, word);  // past the end reads as zero
  EXPECT_EQ(word, (std::array<uint8_t, 4>{}));
  const uint64_t f = h.device_->features();
  EXPECT_NE(f & feature_bit(kFeatureVersion1), 0u);
  EXPECT_NE(f & feature_bit(kBlkFeatureFlush), 0u);
  EXPECT_NE(f & feature_bit(kBlkFeatureDiscard), 0u);
  EXPECT_EQ(f & feature_bit(kBlkFeatureRo), 0u);
}

TEST_P(VirtioBlockTest, WriteThenReadBack) {
  BlockHarness h(image_, config());
  const auto data = pattern(8192, 3);
  ASSERT_TRUE(h.mem_.write(GuestAddress(kData), data));
  EXPECT_EQ(h.request(kBlkTypeOut, 16, kData, 8192, false), kBlkStatusOk);
  EXPECT_EQ(image_.read(16 * 512, 8192), data);

  uint32_t used_len = 0;
  EXPECT_EQ(h.request(kBlkTypeIn, 16, kData + 0x10000, 8192, true, &used_len), kBlkStatusOk);
  EXPECT_EQ(used_len, 8193u);  // data plus status byte
  std::vector<uint8_t> back(8192);
  ASSERT_TRUE(h.mem_.read(GuestAddress(kData + 0x10000), back));
  EXPECT_EQ(back, data);
  EXPECT_GT(h.irq_.used_signals.load(), 0);
}

TEST_P(VirtioBlockTest, ScatteredIndirectRead) {
  BlockHarness h(image_, config());
  const auto data = pattern(3 * 512, 9);
  image_.write(512 * 100, data);
  h.write_header(0, kBlkTypeIn, 100);
  const uint16_t expected = static_cast<uint16_t>(h.driver_.used_idx() + 1);
  h.driver_.add_indirect_chain(
      GuestAddress(0x300000),
      {{kHeader, 16, false}, {kData, 512, true}, {kData + 0x5000, 1024, true}, {kStatus, 1, true}});
  h.kick();
  h.wait_used(expected);
  EXPECT_EQ(*h.mem_.read_obj<uint8_t>(GuestAddress(kStatus)), kBlkStatusOk);
  std::vector<uint8_t> a(512);
  std::vector<uint8_t> b(1024);
  ASSERT_TRUE(h.mem_.read(GuestAddress(kData), a));
  ASSERT_TRUE(h.mem_.read(GuestAddress(kData + 0x5000), b));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), data.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), data.begin() + 512));
}

TEST_P(VirtioBlockTest, ManyRequestsInFlight) {
  BlockHarness h(image_, config());
  // 20 writes (60 descriptors of 64) published before one kick.
  for (uint16_t i = 0; i < 20; ++i) {
    const auto data = pattern(4096, static_cast<uint8_t>(i));
    ASSERT_TRUE(h.mem_.write(GuestAddress(kData + i * 4096ULL), data));
    h.write_header(i, kBlkTypeOut, i * 8ULL);
    h.driver_.add_chain({{kHeader + i * 16ULL, 16, false},
                         {kData + i * 4096ULL, 4096, false},
                         {kStatus + i, 1, true}});
  }
  h.kick();
  h.wait_used(20);
  for (uint16_t i = 0; i < 20; ++i) {
    EXPECT_EQ(*h.mem_.read_obj<uint8_t>(GuestAddress(kStatus + i)), kBlkStatusOk);
    EXPECT_EQ(image_.read(i * 4096ULL, 4096), pattern(4096, static_cast<uint8_t>(i)));
  }
}

TEST_P(VirtioBlockTest, FlushAndGetId) {
  BlockHarness h(image_, config());
  EXPECT_EQ(h.request(kBlkTypeFlush, 0, 0, 0, false), kBlkStatusOk);
  uint32_t used_len = 0;
  EXPECT_EQ(h.request(kBlkTypeGetId, 0, kData, 20, true, &used_len), kBlkStatusOk);
  EXPECT_EQ(used_len, 21u);
  std::array<char, 20> id{};
  ASSERT_TRUE(h.mem_.read(GuestAddress(kData),
                          std::span<uint8_t>(reinterpret_cast<uint8_t*>(id.data()), id.size())));
  EXPECT_EQ(std::string(id.data()), "vmm-serial-0001");
}

TEST_P(VirtioBlockTest, DiscardPunchesHoles) {
  BlockHarness h(image_, config());
  image_.write(0, pattern(kMiB, 1));
  ::sync();
  const uint64_t before = image_.allocated_bytes();
  // One discard segment: 1 MiB from sector 0.
  const GuestAddress seg(kData);
  ASSERT_TRUE(h.mem_.write_obj(seg, uint64_t{0}));
  ASSERT_TRUE(h.mem_.write_obj(seg + 8, static_cast<uint32_t>(kMiB / 512)));
  ASSERT_TRUE(h.mem_.write_obj(seg + 12, uint32_t{0}));
  h.write_header(0, kBlkTypeDiscard, 0);
  h.submit({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}});
  EXPECT_EQ(*h.mem_.read_obj<uint8_t>(GuestAddress(kStatus)), kBlkStatusOk);
  EXPECT_LT(image_.allocated_bytes(), before);
  EXPECT_EQ(image_.read(0, 4096), std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(::access(image_.path().c_str(), F_OK), 0);
}

TEST_P(VirtioBlockTest, WriteZeroes) {
  BlockHarness h(image_, config());
  image_.write(8192, pattern(8192, 5));
  const GuestAddress seg(kData);
  ASSERT_TRUE(h.mem_.write_obj(seg, uint64_t{16}));
  ASSERT_TRUE(h.mem_.write_obj(seg + 8, uint32_t{8}));
  ASSERT_TRUE(h.mem_.write_obj(seg + 12, uint32_t{0}));
  h.write_header(0, kBlkTypeWriteZeroes, 0);
  h.submit({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}});
  EXPECT_EQ(*h.mem_.read_obj<uint8_t>(GuestAddress(kStatus)), kBlkStatusOk);
  EXPECT_EQ(image_.read(8192, 4096), std::vector<uint8_t>(4096, 0));
  const auto original = pattern(8192, 5);
  EXPECT_EQ(image_.read(8192 + 4096, 4096),
            std::vector<uint8_t>(original.begin() + 4096, original.end()));
}

TEST_P(VirtioBlockTest, OutOfRangeSectorIsIoError) {
  BlockHarness h(image_, config());
  const uint64_t last = kImageSize / 512;
  EXPECT_EQ(h.request(kBlkTypeIn, last, kData, 512, true), kBlkStatusIoErr);
  EXPECT_EQ(h.request(kBlkTypeIn, last - 1, kData, 1024, true), kBlkStatusIoErr);
  EXPECT_EQ(h.request(kBlkTypeOut, ~uint64_t{0} >> 1, kData, 512, false), kBlkStatusIoErr);
  EXPECT_EQ(h.request(kBlkTypeIn, last - 1, kData, 512, true), kBlkStatusOk);
  EXPECT_FALSE(h.irq_.needs_reset.load());
}

TEST_P(VirtioBlockTest, ReadOnlyRefusesWrites) {
  image_.write(0, pattern(4096, 2));
  BlockHarness h(image_, config(true));
  EXPECT_NE(h.device_->features() & feature_bit(kBlkFeatureRo), 0u);
  ASSERT_TRUE(h.mem_.write(GuestAddress(kData), std::vector<uint8_t>(4096, 0xaa)));
  EXPECT_EQ(h.request(kBlkTypeOut, 0, kData, 4096, false), kBlkStatusIoErr);
  EXPECT_EQ(image_.read(0, 4096), pattern(4096, 2));
  EXPECT_EQ(h.request(kBlkTypeIn, 0, kData, 4096, true), kBlkStatusOk);
}

TEST_P(VirtioBlockTest, UnknownTypeIsUnsupported) {
  BlockHarness h(image_, config());
  EXPECT_EQ(h.request(0x99, 0, 0, 0, false), kBlkStatusUnsupp);
}

TEST_P(VirtioBlockTest, HeaderInWritableBufferIsIoError) {
  BlockHarness h(image_, config());
  h.write_header(0, kBlkTypeIn, 0);
  h.submit({{kHeader, 16, true}, {kData, 512, true}, {kStatus, 1, true}});
  EXPECT_EQ(*h.mem_.read_obj<uint8_t>(GuestAddress(kStatus)), kBlkStatusIoErr);
  EXPECT_FALSE(h.irq_.needs_reset.load());
}

TEST_P(VirtioBlockTest, StatusInReadOnlyDescriptorNeedsReset) {
  BlockHarness h(image_, config());
  h.write_header(0, kBlkTypeIn, 0);
  h.driver_.add_chain({{kHeader, 16, false}, {kStatus, 1, false}});
  h.kick();
  for (int i = 0; i < 5000 && !h.irq_.needs_reset.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(h.irq_.needs_reset.load());
  EXPECT_EQ(*h.mem_.read_obj<uint8_t>(GuestAddress(kStatus)), 0xee);  // untouched
  EXPECT_EQ(h.driver_.used_idx(), 0);
}

TEST_P(VirtioBlockTest, HostileChainNeedsResetAndStops) {
  BlockHarness h(image_, config());
  h.driver_.set_desc(0, kHeader, 16, kDescFlagNext, 1);
  h.driver_.set_desc(1, kData, 512, kDescFlagNext | kDescFlagWrite, 1);  // loops on itself
  h.driver_.publish(0);
  h.kick();
  for (int i = 0; i < 5000 && !h.irq_.needs_reset.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(h.irq_.needs_reset.load());
  EXPECT_TRUE(h.queue_.broken());
}

TEST_P(VirtioBlockTest, AvailIndexJumpNeedsReset) {
  BlockHarness h(image_, config());
  h.driver_.set_avail_idx(65);  // queue size is 64
  h.kick();
  for (int i = 0; i < 5000 && !h.irq_.needs_reset.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(h.irq_.needs_reset.load());
  EXPECT_EQ(h.driver_.used_idx(), 0);
}

TEST_P(VirtioBlockTest, SecondWriterIsRefused) {
  BlockHarness h(image_, config());
  BlockDeviceConfig c = config();
  c.path = image_.path();
  EventLoop loop;
  try {
    VirtioBlock second(c, loop);
    FAIL() << "second open of a writable image succeeded";
  } catch (const HostResourceError& e) {
    EXPECT_EQ(std::string(e.what()), image_.path() + " is in use by another process");
  }
  c.read_only = true;
  EXPECT_THROW(VirtioBlock(c, loop), HostResourceError);  // a reader conflicts with the writer too
}

// snapshot=on: the guest reads its own writes, in every mix of overlay and image, and the
// image keeps every byte, whichever engine runs the I/O.
TEST_P(VirtioBlockTest, SnapshotDiskKeepsWritesOutOfTheImage) {
  const auto original = pattern(kImageSize, 0x5a);
  image_.write(0, original);
  BlockDeviceConfig c = config();
  c.snapshot = true;
  BlockHarness h(image_, c);
  EXPECT_EQ(h.device_->features() & feature_bit(kBlkFeatureRo), 0u);
  std::vector<uint8_t> model = original;
  const auto put = [&](uint64_t sector, const std::vector<uint8_t>& data) {
    ASSERT_TRUE(h.mem_.write(GuestAddress(kData), data));
    EXPECT_EQ(h.request(kBlkTypeOut, sector, kData, static_cast<uint32_t>(data.size()), false),
              kBlkStatusOk);
    std::copy(data.begin(), data.end(), model.begin() + static_cast<ptrdiff_t>(sector * 512));
  };
  const auto check = [&](uint64_t sector, uint32_t len) {
    EXPECT_EQ(h.request(kBlkTypeIn, sector, kData + 0x40000, len, true), kBlkStatusOk);
    std::vector<uint8_t> back(len);
    EXPECT_TRUE(h.mem_.read(GuestAddress(kData + 0x40000), back));
    EXPECT_TRUE(std::equal(back.begin(), back.end(), model.begin() + sector * 512))
        << "sector " << sector << ", " << len << " bytes";
  };
  put(1, pattern(512, 1));    // part of a cluster: copied up first
  put(2, pattern(1024, 2));   // the same cluster again: straight to the overlay
  put(16, pattern(8192, 3));  // whole clusters
  put(31, pattern(1024, 4));  // across a cluster boundary
  check(0, 8 * 512);          // overlay only
  check(0, 64 * 1024);        // overlay and image mixed
  check(200, 4096);           // image only
  EXPECT_EQ(h.request(kBlkTypeFlush, 0, 0, 0, false), kBlkStatusOk);
  // WRITE_ZEROES over sectors 20-27 (written) and 40-47 (not).
  for (const uint64_t first : {uint64_t{20}, uint64_t{40}}) {
    const GuestAddress seg(kData);
    ASSERT_TRUE(h.mem_.write_obj(seg, first));
    ASSERT_TRUE(h.mem_.write_obj(seg + 8, uint32_t{8}));
    ASSERT_TRUE(h.mem_.write_obj(seg + 12, uint32_t{0}));
    h.write_header(0, kBlkTypeWriteZeroes, 0);
    h.submit({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}});
    EXPECT_EQ(*h.mem_.read_obj<uint8_t>(GuestAddress(kStatus)), kBlkStatusOk);
    std::fill_n(model.begin() + static_cast<ptrdiff_t>(first * 512), 4096, 0);
  }
  check(0, 64 * 1024);
  // DISCARD of the whole disk succeeds and leaves the image alone.
  ASSERT_TRUE(h.mem_.write_obj(GuestAddress(kData), uint64_t{0}));
  ASSERT_TRUE(h.mem_.write_obj(GuestAddress(kData + 8), static_cast<uint32_t>(kImageSize / 512)));
  ASSERT_TRUE(h.mem_.write_obj(GuestAddress(kData + 12), uint32_t{0}));
  h.write_header(0, kBlkTypeDiscard, 0);
  h.submit({{kHeader, 16, false}, {kData, 16, false}, {kStatus, 1, true}});
  EXPECT_EQ(*h.mem_.read_obj<uint8_t>(GuestAddress(kStatus)), kBlkStatusOk);
  EXPECT_EQ(h.request(kBlkTypeOut, kImageSize / 512, kData, 512, false), kBlkStatusIoErr);
  EXPECT_EQ(image_.read(0, kImageSize), original);
}

TEST_P(VirtioBlockTest, SnapshotDisksShareTheImageAndKeepWritersOff) {
  BlockDeviceConfig c = config();
  c.path = image_.path();
  c.snapshot = true;
  EventLoop loop;
  VirtioBlock first(c, loop);
  EXPECT_NO_THROW(VirtioBlock(c, loop));  // another snapshot disk on the same image
  BlockDeviceConfig reader = config(true);
  reader.path = image_.path();
  EXPECT_NO_THROW(VirtioBlock(reader, loop));
  BlockDeviceConfig writer = config();
  writer.path = image_.path();
  try {
    VirtioBlock refused(writer, loop);
    FAIL() << "a writable open beside a snapshot disk succeeded";
  } catch (const HostResourceError& e) {
    EXPECT_EQ(std::string(e.what()), image_.path() + " is in use by another process");
  }
}

TEST_P(VirtioBlockTest, SnapshotDiskIsRefusedWhileAWriterHoldsTheImage) {
  BlockHarness h(image_, config());
  BlockDeviceConfig c = config();
  c.path = image_.path();
  c.snapshot = true;
  EventLoop loop;
  EXPECT_THROW(VirtioBlock(c, loop), HostResourceError);
}

INSTANTIATE_TEST_SUITE_P(Engines, VirtioBlockTest,
                         ::testing::Values(BlockIoEngineKind::kIoUring,
                                           BlockIoEngineKind::kThreadPool),
                         [](const auto& param_info) {
                           return param_info.param == BlockIoEngineKind::kIoUring ? "IoUring"
                                                                                  : "ThreadPool";
                         });

TEST(VirtioBlockOpen, MissingImageAndLongSerial) {
  EventLoop loop;
  BlockDeviceConfig c;
  c.path = "/nonexistent/disk.img";
  EXPECT_THROW(VirtioBlock(c, loop), ConfigError);
  TempImage image(kMiB);
  c.path = image.path();
  c.serial = std::string(21, 'x');
  EXPECT_THROW(VirtioBlock(c, loop), ConfigError);
}

TEST(VirtioBlockOpen, TwoReadersMayShare) {
  EventLoop loop;
  TempImage image(kMiB);
  BlockDeviceConfig c;
  c.path = image.path();
  c.read_only = true;
  VirtioBlock a(c, loop);
  EXPECT_NO_THROW(VirtioBlock(c, loop));
}

TEST(VirtioBlockOpen, CacheNoneWorksWithOddBuffers) {
  TempImage image(kImageSize);
  BlockDeviceConfig c;
  c.cache = DiskCache::kNone;
  BlockHarness h(image, c);
  const auto data = pattern(8192, 4);
  // One 4 KiB-aligned transfer (O_DIRECT) and one at an odd guest address (buffered).
  ASSERT_TRUE(h.mem_.write(GuestAddress(kData), data));
  EXPECT_EQ(h.request(kBlkTypeOut, 8, kData, 8192, false), kBlkStatusOk);
  ASSERT_TRUE(h.mem_.write(GuestAddress(kData + 0x10200), data));
  EXPECT_EQ(h.request(kBlkTypeOut, 64, kData + 0x10200, 8192, false), kBlkStatusOk);
  EXPECT_EQ(image.read(8 * 512, 8192), data);
  EXPECT_EQ(image.read(64 * 512, 8192), data);
}

}  // namespace
}  // namespace vmm::virtio
