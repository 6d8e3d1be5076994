#pragma once
// Copies between one flat buffer and a scatter-gather list, for backends that keep packets in
// their own buffers (user-mode NAT, test doubles) behind the iovec NetBackend interface.
#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace vmm::virtio {

[[nodiscard]] inline size_t iovec_total(std::span<const iovec> segments) noexcept {
  size_t total = 0;
  for (const iovec& s : segments) total += s.iov_len;
  return total;
}

// Copies as much of `from` as `to` holds; returns the bytes copied.
inline size_t scatter(std::span<const uint8_t> from, std::span<const iovec> to) noexcept {
  size_t done = 0;
  for (const iovec& s : to) {
    if (done == from.size()) break;
    const size_t n = std::min(s.iov_len, from.size() - done);
    std::memcpy(s.iov_base, from.data() + done, n);
    done += n;
  }
  return done;
}

// Appends every segment of `from` to `to`.
inline void gather(std::span<const iovec> from, std::vector<uint8_t>& to) {
  for (const iovec& s : from) {
    const auto* p = static_cast<const uint8_t*>(s.iov_base);
    to.insert(to.end(), p, p + s.iov_len);
  }
}

}  // namespace vmm::virtio
