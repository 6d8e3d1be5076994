#pragma once
// The throwaway copy-on-write layer of a `snapshot=on` disk. Guest writes land in an unlinked,
// sparse temporary file at the same offsets as in the image; an in-memory bitmap records which
// clusters that file holds. Reads take written clusters from it and the rest from the base
// image, which is only ever read. Nothing of the overlay outlives the process.
//
// Identity offsets keep the layer simple: no mapping table, and a cluster never written is a
// hole that costs no space. A write that covers only part of an unwritten cluster first copies
// the cluster up from the base (read-modify-write), under a lock, so two such writes cannot
// race on one cluster. Every operation may run on several threads at once.
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "vmm/common/unique_fd.hpp"

namespace vmm::virtio {

class SnapshotOverlay final {
 public:
  // Where the data of a byte range lies.
  enum class Placement : uint8_t { kBase, kOverlay, kMixed };

  // The smallest cluster is the guest file systems' block (4 KiB: their writes need no
  // read-modify-write); larger disks get larger clusters so the bitmap stays within 8 MiB.
  static constexpr uint64_t kMinClusterSize = 4096;
  static constexpr uint64_t kMaxClusters = uint64_t{64} << 20;
  [[nodiscard]] static uint64_t cluster_size_for(uint64_t disk_size) noexcept;

  // Where overlays go: $TMPDIR, else /var/tmp (a disk, where /tmp is often RAM) when it is a
  // writable directory, else /tmp.
  [[nodiscard]] static std::string default_directory();

  // `base_fd` (read access suffices) must stay open while the overlay lives; `size` is the
  // disk's size in bytes. The overlay's file is made in `dir` with O_TMPFILE, or created and
  // unlinked at once where the file system lacks it. Throws vmm::ConfigError.
  SnapshotOverlay(int base_fd, uint64_t size, const std::string& dir);
  SnapshotOverlay(const SnapshotOverlay&) = delete;
  SnapshotOverlay& operator=(const SnapshotOverlay&) = delete;
  SnapshotOverlay(SnapshotOverlay&&) = delete;
  SnapshotOverlay& operator=(SnapshotOverlay&&) = delete;
  ~SnapshotOverlay() = default;

  [[nodiscard]] uint64_t size() const noexcept { return size_; }
  [[nodiscard]] uint64_t cluster_size() const noexcept { return cluster_size_; }
  [[nodiscard]] uint64_t written_clusters() const noexcept;
  [[nodiscard]] int overlay_fd() const noexcept { return overlay_.get(); }

  // Blocking I/O: 0 or a negative errno. A range past the end of the disk is -EINVAL.
  [[nodiscard]] int read(std::span<const iovec> iov, uint64_t offset) const noexcept;
  [[nodiscard]] int write(std::span<const iovec> iov, uint64_t offset) noexcept;
  // Frees the overlay's copy of the range (it reads as zeroes, or as the base where the
  // overlay never held it); the base is untouched.
  [[nodiscard]] int discard(uint64_t offset, uint64_t len) noexcept;
  // The range reads as zeroes afterwards.
  [[nodiscard]] int write_zeroes(uint64_t offset, uint64_t len) noexcept;

  // For asynchronous engines: a range wholly in one place can go straight to that file
  // (kMixed, an empty range or one out of range: use the blocking calls).
  [[nodiscard]] Placement placement(uint64_t offset, uint64_t len) const noexcept;

 private:
  [[nodiscard]] bool in_range(uint64_t offset, uint64_t len) const noexcept {
    return len <= size_ && offset <= size_ - len;
  }
  [[nodiscard]] bool written(uint64_t cluster) const noexcept;
  void mark_written(uint64_t first, uint64_t last) noexcept;
  [[nodiscard]] bool all_written(uint64_t first, uint64_t last) const noexcept;
  // Copies clusters at the edges of [offset, offset+len) that the range covers only in part
  // and the overlay does not hold yet. Caller holds alloc_mutex_.
  [[nodiscard]] int copy_up_edges(uint64_t offset, uint64_t len) noexcept;
  [[nodiscard]] int copy_up(uint64_t cluster) noexcept;

  int base_fd_;
  uint64_t size_;
  uint64_t cluster_size_;
  UniqueFd overlay_;
  std::vector<std::atomic<uint64_t>> bitmap_;
  // Serialises writes that add clusters to the overlay (copy-up and marking); writes to
  // clusters it already holds and all reads go without it.
  std::mutex alloc_mutex_;
};

}  // namespace vmm::virtio
