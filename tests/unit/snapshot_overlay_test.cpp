// The copy-on-write layer of snapshot disks, on a real base file: what reads return before and
// after writes, writes that straddle clusters or cover them in part, the base left byte for
// byte as it was, two overlays on one base kept apart, and ranges past the end refused.
#include "vmm/virtio/snapshot_overlay.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::virtio {
namespace {

constexpr uint64_t kCluster = SnapshotOverlay::kMinClusterSize;
// Not a whole number of clusters, so the last cluster is a short one.
constexpr uint64_t kBaseSize = 16 * kCluster + 1536;

std::vector<uint8_t> pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> v(len);
  for (size_t i = 0; i < len; ++i) v[i] = static_cast<uint8_t>(seed + i * 13 + (i >> 8));
  return v;
}

iovec io(std::vector<uint8_t>& buffer) { return {buffer.data(), buffer.size()}; }

class SnapshotOverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::array<char, 64> name{};
    std::snprintf(name.data(), name.size(), "/tmp/vmm-overlay-base-XXXXXX");
    UniqueFd fd(::mkstemp(name.data()));
    ASSERT_TRUE(fd);
    path_ = name.data();
    base_bytes_ = pattern(kBaseSize, 0x41);
    ASSERT_EQ(::pwrite(fd.get(), base_bytes_.data(), base_bytes_.size(), 0),
              static_cast<ssize_t>(base_bytes_.size()));
    base_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(base_);
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  // The whole base file as it is on disk now.
  [[nodiscard]] std::vector<uint8_t> base_on_disk() const {
    std::vector<uint8_t> out(kBaseSize + 1);
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    const ssize_t n = ::pread(fd.get(), out.data(), out.size(), 0);
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
  }

  static std::vector<uint8_t> read(const SnapshotOverlay& o, uint64_t offset, size_t len) {
    std::vector<uint8_t> out(len, 0xee);
    const iovec v = io(out);
    EXPECT_EQ(o.read(std::span<const iovec>(&v, 1), offset), 0);
    return out;
  }
  static int write(SnapshotOverlay& o, uint64_t offset, std::vector<uint8_t> data) {
    const iovec v = io(data);
    return o.write(std::span<const iovec>(&v, 1), offset);
  }
  // What the disk should read as: the base with `data` at `offset`.
  void expect(std::vector<uint8_t>& model, uint64_t offset, const std::vector<uint8_t>& data) {
    std::copy(data.begin(), data.end(), model.begin() + static_cast<ptrdiff_t>(offset));
  }

  std::string path_;
  UniqueFd base_;
  std::vector<uint8_t> base_bytes_;
};

TEST_F(SnapshotOverlayTest, ReadsTheBaseUntilWritten) {
  SnapshotOverlay o(base_.get(), kBaseSize, "/tmp");
  EXPECT_EQ(o.cluster_size(), kCluster);
  EXPECT_EQ(read(o, 0, kBaseSize), base_bytes_);
  EXPECT_EQ(o.written_clusters(), 0u);
  EXPECT_EQ(o.placement(0, kBaseSize), SnapshotOverlay::Placement::kBase);
}

TEST_F(SnapshotOverlayTest, WholeClusterWritesReadBackAndLeaveTheRest) {
  SnapshotOverlay o(base_.get(), kBaseSize, "/tmp");
  std::vector<uint8_t> model = base_bytes_;
  const auto data = pattern(2 * kCluster, 7);
  ASSERT_EQ(write(o, 3 * kCluster, data), 0);
  expect(model, 3 * kCluster, data);
  EXPECT_EQ(read(o, 0, kBaseSize), model);
  EXPECT_EQ(o.written_clusters(), 2u);
  EXPECT_EQ(o.placement(3 * kCluster, 2 * kCluster), SnapshotOverlay::Placement::kOverlay);
  EXPECT_EQ(o.placement(2 * kCluster, 2 * kCluster), SnapshotOverlay::Placement::kMixed);
  EXPECT_EQ(base_on_disk(), base_bytes_);
}

TEST_F(SnapshotOverlayTest, PartialAndStraddlingWritesKeepTheBaseAroundThem) {
  SnapshotOverlay o(base_.get(), kBaseSize, "/tmp");
  std::vector<uint8_t> model = base_bytes_;
  // Inside one cluster, not at its start: the rest of the cluster must come from the base.
  const auto small = pattern(100, 1);
  ASSERT_EQ(write(o, 5 * kCluster + 700, small), 0);
  expect(model, 5 * kCluster + 700, small);
  // Across a boundary, partial at both ends, 512-byte sectors as a guest writes them.
  const auto across = pattern(kCluster + 1536, 2);
  ASSERT_EQ(write(o, 7 * kCluster + 3072, across), 0);
  expect(model, 7 * kCluster + 3072, across);
  // Into a cluster written before: no copy-up, old overlay data kept around it.
  const auto again = pattern(10, 3);
  ASSERT_EQ(write(o, 5 * kCluster + 750, again), 0);
  expect(model, 5 * kCluster + 750, again);
  // The short last cluster, in part.
  const auto tail = pattern(512, 4);
  ASSERT_EQ(write(o, kBaseSize - 1024, tail), 0);
  expect(model, kBaseSize - 1024, tail);
  EXPECT_EQ(read(o, 0, kBaseSize), model);
  EXPECT_EQ(o.written_clusters(), 1u + 3u + 1u);  // clusters 5, 7-9 and 16
  // Reads that cross from overlay to base and back, in several pieces.
  std::vector<uint8_t> a(3000, 0);
  std::vector<uint8_t> b(kCluster * 4 - 3000, 0);
  const std::array<iovec, 2> parts{io(a), io(b)};
  ASSERT_EQ(o.read(parts, 4 * kCluster), 0);
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(a, std::vector<uint8_t>(model.begin() + 4 * kCluster, model.begin() + 8 * kCluster));
  EXPECT_EQ(base_on_disk(), base_bytes_);
}

TEST_F(SnapshotOverlayTest, ScatteredWriteBuffers) {
  SnapshotOverlay o(base_.get(), kBaseSize, "/tmp");
  std::vector<uint8_t> model = base_bytes_;
  std::vector<uint8_t> a = pattern(512, 5);
  std::vector<uint8_t> b = pattern(kCluster, 6);
  const std::array<iovec, 2> parts{io(a), io(b)};
  ASSERT_EQ(o.write(parts, kCluster + 512), 0);
  expect(model, kCluster + 512, a);
  expect(model, kCluster + 1024, b);
  EXPECT_EQ(read(o, 0, kBaseSize), model);
}

TEST_F(SnapshotOverlayTest, WriteZeroesAndDiscardNeverTouchTheBase) {
  SnapshotOverlay o(base_.get(), kBaseSize, "/tmp");
  std::vector<uint8_t> model = base_bytes_;
  ASSERT_EQ(o.write_zeroes(2 * kCluster + 512, kCluster + 512), 0);
  expect(model, 2 * kCluster + 512, std::vector<uint8_t>(kCluster + 512, 0));
  EXPECT_EQ(read(o, 0, kBaseSize), model);
  // Discarded data may read as anything; the base stays as it was either way.
  ASSERT_EQ(write(o, 10 * kCluster, pattern(kCluster, 8)), 0);
  EXPECT_EQ(o.discard(9 * kCluster, 3 * kCluster), 0);
  EXPECT_EQ(o.discard(0, 0), 0);
  EXPECT_EQ(read(o, 0, 9 * kCluster),
            std::vector<uint8_t>(model.begin(), model.begin() + 9 * kCluster));
  EXPECT_EQ(base_on_disk(), base_bytes_);
}

TEST_F(SnapshotOverlayTest, WritesAllOverLeaveTheBaseByteForByte) {
  SnapshotOverlay o(base_.get(), kBaseSize, "/tmp");
  const auto everything = pattern(kBaseSize, 0x99);
  ASSERT_EQ(write(o, 0, everything), 0);
  EXPECT_EQ(read(o, 0, kBaseSize), everything);
  EXPECT_EQ(o.written_clusters(), 17u);
  EXPECT_EQ(base_on_disk(), base_bytes_);
}

TEST_F(SnapshotOverlayTest, TwoOverlaysOnOneBaseAreIndependent) {
  SnapshotOverlay first(base_.get(), kBaseSize, "/tmp");
  SnapshotOverlay second(base_.get(), kBaseSize, "/tmp");
  std::vector<uint8_t> model_first = base_bytes_;
  std::vector<uint8_t> model_second = base_bytes_;
  const auto x = pattern(kCluster, 0x10);
  const auto y = pattern(300, 0x20);
  ASSERT_EQ(write(first, 0, x), 0);
  expect(model_first, 0, x);
  ASSERT_EQ(write(second, 200, y), 0);
  expect(model_second, 200, y);
  EXPECT_EQ(read(first, 0, kBaseSize), model_first);
  EXPECT_EQ(read(second, 0, kBaseSize), model_second);
  EXPECT_EQ(base_on_disk(), base_bytes_);
}

// Several threads write different sectors of the same unwritten clusters at once, as an
// engine's workers do: each copy-up must happen once, before any of them, or it would put the
// base back over a sector another thread already wrote.
TEST_F(SnapshotOverlayTest, ConcurrentPartialWritesToOneClusterAreAllKept) {
  constexpr unsigned kThreads = 8;  // one 512-byte sector of each cluster per thread
  for (int round = 0; round < 100; ++round) {
    SnapshotOverlay o(base_.get(), kBaseSize, "/tmp");
    std::vector<uint8_t> model = base_bytes_;
    std::vector<std::thread> threads;
    std::latch start(kThreads);
    for (unsigned t = 0; t < kThreads; ++t) {
      const auto data = pattern(512, static_cast<uint8_t>(0x80 + t));
      for (uint64_t c = 0; c < 16; ++c) expect(model, c * kCluster + t * 512, data);
      threads.emplace_back([&o, &start, t, data] {
        start.arrive_and_wait();
        for (uint64_t c = 0; c < 16; ++c) {
          std::vector<uint8_t> copy = data;
          const iovec v{copy.data(), copy.size()};
          EXPECT_EQ(o.write(std::span<const iovec>(&v, 1), c * kCluster + t * 512), 0);
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(read(o, 0, kBaseSize), model) << "round " << round;
  }
  EXPECT_EQ(base_on_disk(), base_bytes_);
}

TEST_F(SnapshotOverlayTest, OutOfRangeRequestsAreRefused) {
  SnapshotOverlay o(base_.get(), kBaseSize, "/tmp");
  std::vector<uint8_t> buffer(512, 0);
  const iovec v = io(buffer);
  const std::span<const iovec> one(&v, 1);
  EXPECT_EQ(o.read(one, kBaseSize - 511), -EINVAL);
  EXPECT_EQ(o.write(one, kBaseSize - 511), -EINVAL);
  EXPECT_EQ(o.write(one, ~uint64_t{0} - 100), -EINVAL);  // offset + length overflows
  EXPECT_EQ(o.write_zeroes(kBaseSize, 1), -EINVAL);
  EXPECT_EQ(o.discard(1, ~uint64_t{0}), -EINVAL);
  EXPECT_EQ(o.placement(kBaseSize - 1, 2), SnapshotOverlay::Placement::kMixed);
  // Segments whose lengths add up past 64 bits.
  const std::array<iovec, 2> huge{iovec{buffer.data(), SIZE_MAX}, iovec{buffer.data(), 2}};
  EXPECT_EQ(o.read(huge, 0), -EINVAL);
  EXPECT_EQ(o.written_clusters(), 0u);
  EXPECT_EQ(o.read(one, kBaseSize - 512), 0);  // the last whole sector is fine
}

TEST_F(SnapshotOverlayTest, ClusterSizeGrowsWithTheDiskToBoundTheBitmap) {
  EXPECT_EQ(SnapshotOverlay::cluster_size_for(0), kCluster);
  EXPECT_EQ(SnapshotOverlay::cluster_size_for(uint64_t{256} << 30), kCluster);    // 256 GiB
  EXPECT_EQ(SnapshotOverlay::cluster_size_for(uint64_t{1} << 40), 4 * kCluster);  // 1 TiB
  const uint64_t huge = uint64_t{1} << 62;
  EXPECT_LE(huge / SnapshotOverlay::cluster_size_for(huge), SnapshotOverlay::kMaxClusters);
}

TEST_F(SnapshotOverlayTest, MissingDirectoryIsAConfigError) {
  EXPECT_THROW(SnapshotOverlay(base_.get(), kBaseSize, "/nonexistent/overlay-dir"), ConfigError);
}

}  // namespace
}  // namespace vmm::virtio
