#include "full_transfer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>

namespace vmm::virtio {

namespace {

// Runs preadv/pwritev-like `op` until all of `iov` is transferred.
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

int read_fully(int fd, std::span<const iovec> iov, uint64_t offset) noexcept {
  return transfer(iov, offset,
                  [fd](const iovec* v, int n, off_t off) { return ::preadv(fd, v, n, off); });
}

int write_fully(int fd, std::span<const iovec> iov, uint64_t offset) noexcept {
  return transfer(iov, offset,
                  [fd](const iovec* v, int n, off_t off) { return ::pwritev(fd, v, n, off); });
}

}  // namespace vmm::virtio
