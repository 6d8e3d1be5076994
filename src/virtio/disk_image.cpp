#include "vmm/virtio/disk_image.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "full_transfer.hpp"
#include "vmm/common/error.hpp"

namespace vmm::virtio {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Whole-file OFD lock: it belongs to the open file description, so it conflicts with any
// other open of the image, in this process or another, and is released on close.
void lock_image(int fd, const std::string& path, bool read_only) {
  struct flock fl {};
  fl.l_type = read_only ? F_RDLCK : F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return;
  const int err = errno;
  if (err == EAGAIN || err == EACCES)
    throw HostResourceError(path + " is in use by another process");
  throw ConfigError(path + ": cannot lock disk image: " + errno_text(err));
}

uint64_t iov_length(std::span<const iovec> iov) noexcept {
  uint64_t n = 0;
  for (const auto& v : iov) n += v.iov_len;
  return n;
}

}  // namespace

DiskImage DiskImage::open(const std::string& path, bool read_only, DiskCache cache, bool snapshot,
                          const std::string& overlay_dir) {
  DiskImage image;
  image.path_ = path;
  image.read_only_ = read_only;
  // A snapshot disk only reads the image, so it shares it as a read-only disk does.
  const bool image_read_only = read_only || snapshot;
  const int mode = (image_read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  image.fd_.reset(::open(path.c_str(), mode));
  if (!image.fd_) {
    throw ConfigError(path + ": cannot open disk image: " + errno_text(errno));
  }
  struct stat st {};
  if (::fstat(image.fd_.get(), &st) != 0) {
    throw ConfigError(path + ": cannot stat disk image: " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    throw ConfigError(path + ": disk image is not a regular file or block device");
  }
  lock_image(image.fd_.get(), path, image_read_only);
  const off_t end = ::lseek(image.fd_.get(), 0, SEEK_END);
  if (end < 0) throw ConfigError(path + ": cannot size disk image: " + errno_text(errno));
  image.size_ = static_cast<uint64_t>(end);
  if (image.size_ % 512 != 0) {
    spdlog::warn("{}: size is not a multiple of 512 bytes; the tail is not visible to the guest",
                 path);
  }
  if (cache == DiskCache::kNone) image.open_direct(mode);
  if (snapshot && !read_only) {
    try {
      image.overlay_ = std::make_unique<SnapshotOverlay>(
          image.fd_.get(), image.size_,
          overlay_dir.empty() ? SnapshotOverlay::default_directory() : overlay_dir);
    } catch (const ConfigError& e) {
      throw ConfigError(path, e.what());
    }
  }
  return image;
}

void DiskImage::open_direct(int mode) {
  direct_fd_.reset(::open(path_.c_str(), mode | O_DIRECT));
  if (!direct_fd_) {
    // Silently caching would break the promise cache=none makes (no host page cache).
    throw ConfigError(path_ + ": cache=none needs O_DIRECT, which this file system refuses (" +
                      errno_text(errno) + ")");
  }
  // The file system's own alignment (Linux 6.1+); the conservative default elsewhere.
  struct statx stx {};
  if (::statx(direct_fd_.get(), "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
      (stx.stx_mask & STATX_DIOALIGN) != 0 && stx.stx_dio_offset_align != 0) {
    direct_offset_align_ = std::max<uint64_t>(stx.stx_dio_offset_align, 512);
    direct_memory_align_ = std::max<uint64_t>(stx.stx_dio_mem_align, 1);
  }
}

int DiskImage::fd_for(std::span<const iovec> iov, uint64_t offset) const noexcept {
  if (!direct_fd_) return fd_.get();
  // A transfer O_DIRECT would refuse goes through the page cache instead: still correct, as
  // the kernel writes back and invalidates cached pages around direct I/O to the same range.
  if (offset % direct_offset_align_ != 0) return fd_.get();
  for (const auto& v : iov) {
    if (reinterpret_cast<uintptr_t>(v.iov_base) % direct_memory_align_ != 0 ||
        v.iov_len % direct_offset_align_ != 0) {
      return fd_.get();
    }
  }
  return direct_fd_.get();
}

int DiskImage::async_read_fd(std::span<const iovec> iov, uint64_t offset) const noexcept {
  if (!overlay_) return fd_for(iov, offset);
  switch (overlay_->placement(offset, iov_length(iov))) {
    case SnapshotOverlay::Placement::kBase:
      return fd_for(iov, offset);
    case SnapshotOverlay::Placement::kOverlay:
      return overlay_->overlay_fd();
    case SnapshotOverlay::Placement::kMixed:
      break;
  }
  return -1;
}

int DiskImage::async_write_fd(std::span<const iovec> iov, uint64_t offset) const noexcept {
  if (!overlay_) return fd_for(iov, offset);
  const bool in_overlay =
      overlay_->placement(offset, iov_length(iov)) == SnapshotOverlay::Placement::kOverlay;
  return in_overlay ? overlay_->overlay_fd() : -1;
}

int DiskImage::read(std::span<const iovec> iov, uint64_t offset) const noexcept {
  if (overlay_) return overlay_->read(iov, offset);
  return read_fully(fd_for(iov, offset), iov, offset);
}

int DiskImage::write(std::span<const iovec> iov, uint64_t offset) const noexcept {
  if (read_only_) return -EROFS;
  if (overlay_) return overlay_->write(iov, offset);
  return write_fully(fd_for(iov, offset), iov, offset);
}

int DiskImage::flush() const noexcept {
  if (read_only_ || overlay_) return 0;  // an overlay has nothing to keep
  return ::fdatasync(fd_.get()) == 0 ? 0 : -errno;
}

int DiskImage::discard(uint64_t offset, uint64_t len) const noexcept {
  if (read_only_) return -EROFS;
  if (overlay_) return overlay_->discard(offset, len);
  if (len == 0) return 0;
  if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(len)) == 0) {
    return 0;
  }
  // Discard is advisory: a host that cannot punch holes just keeps the blocks.
  if (errno == EOPNOTSUPP) return 0;
  return -errno;
}

int DiskImage::write_zeroes(uint64_t offset, uint64_t len, bool may_unmap) const noexcept {
  if (read_only_) return -EROFS;
  if (overlay_) return overlay_->write_zeroes(offset, len);
  if (len == 0) return 0;
  const int mode = may_unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                             : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
  if (::fallocate(fd_.get(), mode, static_cast<off_t>(offset), static_cast<off_t>(len)) == 0) {
    return 0;
  }
  if (errno != EOPNOTSUPP && errno != EINVAL) return -errno;
  // The file system cannot do it in place: write zeroes.
  static const std::vector<uint8_t> zeroes(1 << 16, 0);
  while (len > 0) {
    const uint64_t n = std::min<uint64_t>(len, zeroes.size());
    iovec v{const_cast<uint8_t*>(zeroes.data()), n};
    const int r = write_fully(fd_.get(), std::span<const iovec>(&v, 1), offset);
    if (r != 0) return r;
    offset += n;
    len -= n;
  }
  return 0;
}

}  // namespace vmm::virtio
