#include "vmm/virtio/snapshot_overlay.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "full_transfer.hpp"
#include "vmm/common/error.hpp"

namespace vmm::virtio {

namespace {

constexpr uint64_t kBitsPerWord = 64;

// The part [skip, skip+len) of the byte stream `iov` describes.
std::vector<iovec> slice(std::span<const iovec> iov, uint64_t skip, uint64_t len) {
  std::vector<iovec> out;
  for (const iovec& v : iov) {
    if (len == 0) break;
    if (skip >= v.iov_len) {
      skip -= v.iov_len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(v.iov_len - skip, len);
    out.push_back({static_cast<uint8_t*>(v.iov_base) + skip, n});
    skip = 0;
    len -= n;
  }
  return out;
}

// Total length of `iov`; false when it does not fit in 64 bits.
bool total_length(std::span<const iovec> iov, uint64_t* total) noexcept {
  uint64_t sum = 0;
  for (const iovec& v : iov) {
    if (v.iov_len > UINT64_MAX - sum) return false;
    sum += v.iov_len;
  }
  *total = sum;
  return true;
}

UniqueFd make_overlay_file(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd) return fd;
  const int tmpfile_err = errno;
  if (tmpfile_err != EOPNOTSUPP && tmpfile_err != EISDIR && tmpfile_err != EINVAL) {
    throw ConfigError("cannot create a snapshot overlay in " + dir + ": " +
                      std::strerror(tmpfile_err));
  }
  // No O_TMPFILE on this file system: a named file, unlinked before anything is written.
  std::string name = dir + "/vmm-snapshot-XXXXXX";
  fd.reset(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd) {
    throw ConfigError("cannot create a snapshot overlay in " + dir + ": " + std::strerror(errno));
  }
  ::unlink(name.c_str());
  return fd;
}

}  // namespace

uint64_t SnapshotOverlay::cluster_size_for(uint64_t disk_size) noexcept {
  uint64_t cluster = kMinClusterSize;
  while (disk_size / cluster > kMaxClusters) cluster *= 2;
  return cluster;
}

std::string SnapshotOverlay::default_directory() {
  const char* tmpdir = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): read at start-up
  if (tmpdir != nullptr && *tmpdir != '\0') return tmpdir;
  // Minimal or read-only systems (initramfs, containers, a read-only root) may lack it.
  struct stat st {};
  if (::stat("/var/tmp", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/var/tmp", W_OK) == 0) {
    return "/var/tmp";
  }
  return "/tmp";
}

SnapshotOverlay::SnapshotOverlay(int base_fd, uint64_t size, const std::string& dir)
    : base_fd_(base_fd),
      size_(size),
      cluster_size_(cluster_size_for(size)),
      overlay_(make_overlay_file(dir)),
      bitmap_(((size + cluster_size_ - 1) / cluster_size_ + kBitsPerWord - 1) / kBitsPerWord) {
  // Sparse: space is taken only by what the guest writes.
  if (::ftruncate(overlay_.get(), static_cast<off_t>(size)) != 0) {
    throw ConfigError("cannot size the snapshot overlay in " + dir + ": " + std::strerror(errno));
  }
}

bool SnapshotOverlay::written(uint64_t cluster) const noexcept {
  const uint64_t word = bitmap_[cluster / kBitsPerWord].load(std::memory_order_acquire);
  return ((word >> (cluster % kBitsPerWord)) & 1U) != 0;
}

void SnapshotOverlay::mark_written(uint64_t first, uint64_t last) noexcept {
  // Set only after the data is in the overlay, so a reader that sees the bit sees the data.
  for (uint64_t c = first; c <= last; ++c) {
    bitmap_[c / kBitsPerWord].fetch_or(uint64_t{1} << (c % kBitsPerWord),
                                       std::memory_order_release);
  }
}

bool SnapshotOverlay::all_written(uint64_t first, uint64_t last) const noexcept {
  for (uint64_t c = first; c <= last; ++c) {
    if (!written(c)) return false;
  }
  return true;
}

uint64_t SnapshotOverlay::written_clusters() const noexcept {
  uint64_t n = 0;
  for (const auto& word : bitmap_) n += static_cast<uint64_t>(__builtin_popcountll(word.load()));
  return n;
}

SnapshotOverlay::Placement SnapshotOverlay::placement(uint64_t offset,
                                                      uint64_t len) const noexcept {
  if (len == 0 || !in_range(offset, len)) return Placement::kMixed;
  const uint64_t first = offset / cluster_size_;
  const uint64_t last = (offset + len - 1) / cluster_size_;
  const bool first_written = written(first);
  for (uint64_t c = first + 1; c <= last; ++c) {
    if (written(c) != first_written) return Placement::kMixed;
  }
  return first_written ? Placement::kOverlay : Placement::kBase;
}

int SnapshotOverlay::read(std::span<const iovec> iov, uint64_t offset) const noexcept {
  uint64_t len = 0;
  if (!total_length(iov, &len) || !in_range(offset, len)) return -EINVAL;
  const uint64_t end = offset + len;
  uint64_t pos = offset;
  try {
    while (pos < end) {
      // The longest run of clusters that lie in the same file.
      const bool from_overlay = written(pos / cluster_size_);
      uint64_t run_end = std::min(end, (pos / cluster_size_ + 1) * cluster_size_);
      while (run_end < end && written(run_end / cluster_size_) == from_overlay) {
        run_end = std::min(end, run_end + cluster_size_);
      }
      const std::vector<iovec> part = slice(iov, pos - offset, run_end - pos);
      const int r = read_fully(from_overlay ? overlay_.get() : base_fd_, part, pos);
      if (r != 0) return r;
      pos = run_end;
    }
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  return 0;
}

int SnapshotOverlay::copy_up(uint64_t cluster) noexcept {
  const uint64_t start = cluster * cluster_size_;
  const uint64_t len = std::min(cluster_size_, size_ - start);
  try {
    std::vector<uint8_t> buffer(len);
    const iovec v{buffer.data(), buffer.size()};
    const int r = read_fully(base_fd_, std::span<const iovec>(&v, 1), start);
    if (r != 0) return r;
    return write_fully(overlay_.get(), std::span<const iovec>(&v, 1), start);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

int SnapshotOverlay::copy_up_edges(uint64_t offset, uint64_t len) noexcept {
  const uint64_t end = offset + len;
  const auto copy_if_partial = [&](uint64_t cluster) {
    const uint64_t start = cluster * cluster_size_;
    const uint64_t cluster_end = std::min(start + cluster_size_, size_);
    const bool covered = offset <= start && end >= cluster_end;
    return covered || written(cluster) ? 0 : copy_up(cluster);
  };
  const uint64_t first = offset / cluster_size_;
  const uint64_t last = (end - 1) / cluster_size_;
  const int r = copy_if_partial(first);
  return r != 0 || last == first ? r : copy_if_partial(last);
}

int SnapshotOverlay::write(std::span<const iovec> iov, uint64_t offset) noexcept {
  uint64_t len = 0;
  if (!total_length(iov, &len) || !in_range(offset, len)) return -EINVAL;
  if (len == 0) return 0;
  const uint64_t first = offset / cluster_size_;
  const uint64_t last = (offset + len - 1) / cluster_size_;
  if (all_written(first, last)) return write_fully(overlay_.get(), iov, offset);
  const std::lock_guard lock(alloc_mutex_);
  int r = copy_up_edges(offset, len);
  if (r == 0) r = write_fully(overlay_.get(), iov, offset);
  if (r == 0) mark_written(first, last);
  return r;
}

int SnapshotOverlay::discard(uint64_t offset, uint64_t len) noexcept {
  if (!in_range(offset, len)) return -EINVAL;
  if (len == 0) return 0;
  const std::lock_guard lock(alloc_mutex_);
  if (::fallocate(overlay_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(offset), static_cast<off_t>(len)) == 0) {
    return 0;
  }
  // Discard is advisory: an overlay that cannot punch holes keeps the blocks.
  return errno == EOPNOTSUPP ? 0 : -errno;
}

int SnapshotOverlay::write_zeroes(uint64_t offset, uint64_t len) noexcept {
  if (!in_range(offset, len)) return -EINVAL;
  if (len == 0) return 0;
  const uint64_t first = offset / cluster_size_;
  const uint64_t last = (offset + len - 1) / cluster_size_;
  const std::lock_guard lock(alloc_mutex_);
  int r = copy_up_edges(offset, len);
  if (r != 0) return r;
  // A hole in the overlay reads as zeroes once its clusters are marked.
  if (::fallocate(overlay_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(offset), static_cast<off_t>(len)) != 0) {
    if (errno != EOPNOTSUPP) return -errno;
    static const std::vector<uint8_t> zeroes(uint64_t{1} << 16, 0);
    for (uint64_t done = 0; done < len && r == 0;) {
      const uint64_t n = std::min<uint64_t>(len - done, zeroes.size());
      const iovec v{const_cast<uint8_t*>(zeroes.data()), n};
      r = write_fully(overlay_.get(), std::span<const iovec>(&v, 1), offset + done);
      done += n;
    }
    if (r != 0) return r;
  }
  mark_written(first, last);
  return 0;
}

}  // namespace vmm::virtio
