#pragma once
// A raw disk image file opened for a virtio-blk device: the open mode, the exclusive lock that
// keeps two VMMs off one writable image, and the blocking I/O primitives the I/O engines use.
// A snapshot disk reads the image and writes to a throwaway overlay (snapshot_overlay.hpp).
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vmm/common/unique_fd.hpp"
#include "vmm/config/block_config.hpp"
#include "vmm/virtio/snapshot_overlay.hpp"

namespace vmm::virtio {

class DiskImage final {
 public:
  // Opens `path` read-write (or read-only) and takes an OFD lock on it: exclusive for a
  // writable image, shared for a read-only or snapshot one. A writable snapshot disk opens the
  // image read-only and keeps the guest's writes in an overlay made in `overlay_dir` (empty:
  // SnapshotOverlay::default_directory()). Throws vmm::ConfigError when the file cannot be
  // opened or another process holds a conflicting lock ("<path> is in use by another process").
  static DiskImage open(const std::string& path, bool read_only, DiskCache cache,
                        bool snapshot = false, const std::string& overlay_dir = {});

  DiskImage() = default;
  DiskImage(DiskImage&&) noexcept = default;
  DiskImage& operator=(DiskImage&&) noexcept = default;
  DiskImage(const DiskImage&) = delete;
  DiskImage& operator=(const DiskImage&) = delete;
  ~DiskImage() = default;

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] uint64_t size_bytes() const noexcept { return size_; }
  [[nodiscard]] bool read_only() const noexcept { return read_only_; }
  [[nodiscard]] bool direct() const noexcept { return direct_fd_.valid(); }
  // Writes go to an overlay; the image itself is never written.
  [[nodiscard]] bool snapshot() const noexcept { return overlay_ != nullptr; }

  // The descriptor to use for a transfer: the O_DIRECT one when buffers, lengths and offset
  // meet its alignment, the buffered one otherwise (so odd guest buffers still work).
  [[nodiscard]] int fd_for(std::span<const iovec> iov, uint64_t offset) const noexcept;
  [[nodiscard]] int buffered_fd() const noexcept { return fd_.get(); }
  // The descriptor an asynchronous engine may read or write the whole transfer on directly,
  // or -1 when it must use the blocking calls below (a snapshot range that spans the image and
  // the overlay, or a write that adds clusters to the overlay).
  [[nodiscard]] int async_read_fd(std::span<const iovec> iov, uint64_t offset) const noexcept;
  [[nodiscard]] int async_write_fd(std::span<const iovec> iov, uint64_t offset) const noexcept;

  // Blocking primitives. Return 0 or a negative errno; short transfers count as -EIO.
  [[nodiscard]] int read(std::span<const iovec> iov, uint64_t offset) const noexcept;
  [[nodiscard]] int write(std::span<const iovec> iov, uint64_t offset) const noexcept;
  [[nodiscard]] int flush() const noexcept;
  // Deallocates the range; reads return zeroes afterwards and the file keeps its size.
  [[nodiscard]] int discard(uint64_t offset, uint64_t len) const noexcept;
  // Zeroes the range, deallocating it when `may_unmap`.
  [[nodiscard]] int write_zeroes(uint64_t offset, uint64_t len, bool may_unmap) const noexcept;

  // O_DIRECT alignment for buffers, lengths and offsets when the file system does not say.
  // 4 KiB covers every host disk.
  static constexpr uint64_t kDirectAlignment = 4096;
  // With DiskCache::kNone, the offset and length alignment O_DIRECT needs here (the block
  // size the guest should use); 0 without O_DIRECT.
  [[nodiscard]] uint64_t direct_alignment() const noexcept {
    return direct_fd_ ? direct_offset_align_ : 0;
  }

 private:
  // Opens the O_DIRECT descriptor and learns its alignment; throws ConfigError when the file
  // system refuses O_DIRECT.
  void open_direct(int mode);

  std::string path_;
  UniqueFd fd_;                               // buffered; holds the lock
  UniqueFd direct_fd_;                        // O_DIRECT, only with DiskCache::kNone
  std::unique_ptr<SnapshotOverlay> overlay_;  // only for a writable snapshot disk
  uint64_t size_ = 0;
  bool read_only_ = false;
  uint64_t direct_offset_align_ = kDirectAlignment;
  uint64_t direct_memory_align_ = kDirectAlignment;
};

}  // namespace vmm::virtio
