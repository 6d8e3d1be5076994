#pragma once
// Whole positional transfers on a file: preadv/pwritev resumed after short transfers and EINTR,
// shared by the raw image and the snapshot overlay.
#include <sys/uio.h>

#include <cstdint>
#include <span>

namespace vmm::virtio {

// Return 0 or a negative errno; end of file before the end of `iov` is -EIO. At most 256
// segments (-EINVAL beyond, more than a virtio-blk request can carry).
[[nodiscard]] int read_fully(int fd, std::span<const iovec> iov, uint64_t offset) noexcept;
[[nodiscard]] int write_fully(int fd, std::span<const iovec> iov, uint64_t offset) noexcept;

}  // namespace vmm::virtio
