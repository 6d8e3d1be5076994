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

bool aligned(uint64_t v) noexcept { return v % DiskImage::kDirectAlignment == 0; }

// Runs preadv/pwritev-like `op` until all of `iov` is transferred, resuming after short
// transfers and EINTR.
template <typename Op>
int transfer(std::span<const iovec> iov, uint64_t offset, Op&& op) noexcept {
  // Small local copy so partial transfers can be resumed without touching the caller's array.
  std::array<iovec, 256> local{};
  if (iov.size() > local.size()) return -EINVAL;
  std::copy(iov.begin(), iov.end(), local.begin());
  size_t first = 0;
  const size_t count = iov.size();
  while (first < count) {
    const ssize_t n =
        op(local.data() + first, static_cast<int>(count - first), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;  // end of file inside the disk: the image shrank
    auto done = static_cast<uint64_t>(n);
    offset += done;
    while (first < count && done >= local[first].iov_len) {
      done -= local[first].iov_len;
      ++first;
    }
    if (first < count && done > 0) {
      local[first].iov_base = static_cast<uint8_t*>(local[first].iov_base) + done;
      local[first].iov_len -= done;
    }
  }
  return 0;
}

}  // namespace

DiskImage DiskImage::open(const std::string& path, bool read_only, DiskCache cache) {
  DiskImage image;
  image.path_ = path;
  image.read_only_ = read_only;
  const int mode = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
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
  lock_image(image.fd_.get(), path, read_only);
  const off_t end = ::lseek(image.fd_.get(), 0, SEEK_END);
  if (end < 0) throw ConfigError(path + ": cannot size disk image: " + errno_text(errno));
  image.size_ = static_cast<uint64_t>(end);
  if (image.size_ % 512 != 0) {
    spdlog::warn("{}: size is not a multiple of 512 bytes; the tail is not visible to the guest",
                 path);
  }
  if (cache == DiskCache::kNone) {
    image.direct_fd_.reset(::open(path.c_str(), mode | O_DIRECT));
    if (!image.direct_fd_) {
      // tmpfs and some FUSE file systems refuse O_DIRECT: still correct, just cached.
      spdlog::warn("{}: O_DIRECT not supported here ({}); using the page cache", path,
                   errno_text(errno));
    }
  }
  return image;
}

int DiskImage::fd_for(std::span<const iovec> iov, uint64_t offset) const noexcept {
  if (!direct_fd_) return fd_.get();
  if (!aligned(offset)) return fd_.get();
  for (const auto& v : iov) {
    if (!aligned(reinterpret_cast<uintptr_t>(v.iov_base)) || !aligned(v.iov_len)) {
      return fd_.get();
    }
  }
  return direct_fd_.get();
}

int DiskImage::read(std::span<const iovec> iov, uint64_t offset) const noexcept {
  const int fd = fd_for(iov, offset);
  return transfer(iov, offset,
                  [fd](const iovec* v, int n, off_t off) { return ::preadv(fd, v, n, off); });
}

int DiskImage::write(std::span<const iovec> iov, uint64_t offset) const noexcept {
  if (read_only_) return -EROFS;
  const int fd = fd_for(iov, offset);
  return transfer(iov, offset,
                  [fd](const iovec* v, int n, off_t off) { return ::pwritev(fd, v, n, off); });
}

int DiskImage::flush() const noexcept {
  if (read_only_) return 0;
  return ::fdatasync(fd_.get()) == 0 ? 0 : -errno;
}

int DiskImage::discard(uint64_t offset, uint64_t len) const noexcept {
  if (read_only_) return -EROFS;
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
    const int r = transfer(
        std::span<const iovec>(&v, 1), offset,
        [fd = fd_.get()](const iovec* iv, int c, off_t off) { return ::pwritev(fd, iv, c, off); });
    if (r != 0) return r;
    offset += n;
    len -= n;
  }
  return 0;
}

}  // namespace vmm::virtio
