// cache=none: the image is opened with O_DIRECT or not at all. A file system that refuses
// O_DIRECT is a configuration error naming the disk; where it works, aligned transfers use the
// O_DIRECT descriptor, misaligned ones still read and write the right bytes, and the device
// tells the guest the alignment as its block size.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/block_device.hpp"
#include "vmm/virtio/disk_image.hpp"

namespace vmm::virtio {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kImageSize = 1ULL << 20;
constexpr size_t kCfgBlkSize = 20;

void make_image(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(kImageSize)), 0);
}

// A ramfs mounted on a temporary directory: a file system without O_DIRECT.
class RamfsDir {
 public:
  RamfsDir() {
    std::array<char, 64> name{};
    std::snprintf(name.data(), name.size(), "/tmp/vmm-ramfs-XXXXXX");
    if (::mkdtemp(name.data()) == nullptr) return;
    dir_ = name.data();
    mounted_ = ::mount("ramfs", dir_.c_str(), "ramfs", 0, nullptr) == 0;
  }
  ~RamfsDir() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  RamfsDir(const RamfsDir&) = delete;
  RamfsDir& operator=(const RamfsDir&) = delete;
  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const std::string& path() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// An image on /tmp (ext4 on the build hosts; skipped where /tmp refuses O_DIRECT too).
class TempImagePath {
 public:
  TempImagePath() {
    std::array<char, 64> name{};
    std::snprintf(name.data(), name.size(), "/tmp/vmm-direct-XXXXXX");
    UniqueFd fd(::mkstemp(name.data()));
    path_ = name.data();
    if (fd) (void)::ftruncate(fd.get(), static_cast<off_t>(kImageSize));
  }
  ~TempImagePath() { ::unlink(path_.c_str()); }
  TempImagePath(const TempImagePath&) = delete;
  TempImagePath& operator=(const TempImagePath&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] bool direct_capable() const {
    UniqueFd fd(::open(path_.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
    return static_cast<bool>(fd);
  }

 private:
  std::string path_;
};

constexpr size_t kPage = 4096;

// Page-aligned host memory, as guest RAM is: the first page boundary inside a larger vector.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t size) : storage_(size + kPage) {
    void* p = storage_.data();
    size_t space = storage_.size();
    data_ = static_cast<uint8_t*>(std::align(kPage, size, p, space));
  }
  [[nodiscard]] uint8_t* get() const noexcept { return data_; }

 private:
  std::vector<uint8_t> storage_;
  uint8_t* data_ = nullptr;
};

TEST(DiskCacheNone, RefusedWhereTheFileSystemHasNoODirect) {
  RamfsDir ramfs;
  if (!ramfs.mounted()) GTEST_SKIP() << "cannot mount a ramfs here (needs CAP_SYS_ADMIN)";
  const fs::path image = fs::path(ramfs.path()) / "disk.img";
  make_image(image);
  BlockDeviceConfig config;
  config.path = image.string();
  config.cache = DiskCache::kNone;
  EventLoop loop;
  try {
    VirtioBlock device(config, loop);
    FAIL() << "cache=none on ramfs was accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(image.string()), std::string::npos) << what;
    EXPECT_NE(what.find("cache=none needs O_DIRECT"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  // The same file with the page cache is fine, and the failed open left no lock behind.
  config.cache = DiskCache::kWriteback;
  EXPECT_NO_THROW(VirtioBlock(config, loop));
  fs::remove(image);
}

TEST(DiskCacheNone, AlignedTransfersGoDirectMisalignedOnesStillWork) {
  TempImagePath file;
  if (!file.direct_capable()) GTEST_SKIP() << "/tmp refuses O_DIRECT";
  const DiskImage image = DiskImage::open(file.path(), false, DiskCache::kNone);
  const uint64_t align = image.direct_alignment();
  ASSERT_GE(align, 512u);
  ASSERT_LE(align, 4096u);

  AlignedBuffer buffer(3 * kPage);
  uint8_t* base = buffer.get();
  for (size_t i = 0; i < 3 * kPage; ++i) base[i] = static_cast<uint8_t>(i * 13 + 1);

  const iovec aligned{base, 4096};
  EXPECT_NE(image.fd_for({&aligned, 1}, 8192), image.buffered_fd());
  EXPECT_EQ(image.write({&aligned, 1}, 8192), 0);

  // An odd buffer address, an odd length and an odd offset: the buffered descriptor.
  const iovec odd_address{base + 4096 + 1, 4096};
  const iovec odd_length{base, 4096 + 100};
  const iovec odd_offset{base, 4096};
  EXPECT_EQ(image.fd_for({&odd_address, 1}, 0), image.buffered_fd());
  EXPECT_EQ(image.fd_for({&odd_length, 1}, 0), image.buffered_fd());
  EXPECT_EQ(image.fd_for({&odd_offset, 1}, 8192 + 100), image.buffered_fd());
  EXPECT_EQ(image.write({&odd_address, 1}, 3 * 4096 + 100), 0);

  // Read both back through O_DIRECT-aligned and misaligned buffers.
  AlignedBuffer back(3 * kPage);
  const iovec whole{back.get(), 4096};
  ASSERT_EQ(image.read({&whole, 1}, 8192), 0);
  EXPECT_EQ(std::memcmp(back.get(), base, 4096), 0);
  const iovec odd_back{back.get() + 3, 4096};
  ASSERT_EQ(image.read({&odd_back, 1}, 3 * 4096 + 100), 0);
  EXPECT_EQ(std::memcmp(back.get() + 3, base + 4096 + 1, 4096), 0);
}

TEST(DiskCacheNone, DeviceAdvertisesTheDirectAlignmentAsBlockSize) {
  TempImagePath file;
  if (!file.direct_capable()) GTEST_SKIP() << "/tmp refuses O_DIRECT";
  BlockDeviceConfig config;
  config.path = file.path();
  EventLoop loop;
  std::array<uint8_t, 4> word{};
  uint32_t block_size = 0;
  {
    VirtioBlock cached(config, loop);
    cached.read_config(kCfgBlkSize, word);
    std::memcpy(&block_size, word.data(), sizeof block_size);
    EXPECT_EQ(block_size, 512u);
  }
  const uint64_t alignment =
      DiskImage::open(file.path(), true, DiskCache::kNone).direct_alignment();
  config.cache = DiskCache::kNone;
  VirtioBlock direct(config, loop);
  direct.read_config(kCfgBlkSize, word);
  std::memcpy(&block_size, word.data(), sizeof block_size);
  EXPECT_EQ(block_size, std::max<uint64_t>(alignment, 512));
  EXPECT_NE(direct.features() & feature_bit(kBlkFeatureBlkSize), 0u);
}

}  // namespace
}  // namespace vmm::virtio
