#include "vmm/virtio/block_request.hpp"

#include <algorithm>
#include <cstring>

#include "vmm/common/checked.hpp"

namespace vmm::virtio {

namespace {

// A request never needs more descriptors than data segments plus header and status; a longer
// chain is walked to its end (to validate it and find the status byte) but not stored.
constexpr size_t kMaxStoredDescriptors = kBlkMaxSegments + 2;

struct Descriptors {
  std::array<Descriptor, kMaxStoredDescriptors> items{};
  size_t count = 0;
  bool truncated = false;
  Descriptor last{};
};

// Calls fn(host pointer, length) for each piece of [begin, end) of the chain's byte stream
// (readable bytes first, then writable ones).
template <typename Fn>
bool for_each_piece(const GuestMemory& memory, const Descriptors& descs, uint64_t begin,
                    uint64_t end, Fn&& fn) noexcept {
  uint64_t pos = 0;
  for (size_t i = 0; i < descs.count && pos < end; ++i) {
    const Descriptor& d = descs.items[i];
    const uint64_t d_end = pos + d.len;
    const uint64_t lo = std::max(pos, begin);
    const uint64_t hi = std::min(d_end, end);
    if (lo < hi) {
      auto s = memory.span(d.addr + (lo - pos), hi - lo);
      if (!s) return false;
      if (!fn(s->data(), hi - lo)) return false;
    }
    pos = d_end;
  }
  return true;
}

// Copies [begin, begin + out.size()) of the byte stream into `out`.
bool gather(const GuestMemory& memory, const Descriptors& descs, uint64_t begin,
            std::span<uint8_t> out) noexcept {
  size_t done = 0;
  const bool ok =
      for_each_piece(memory, descs, begin, begin + out.size(), [&](const uint8_t* p, uint64_t n) {
        std::memcpy(out.data() + done, p, n);
        done += n;
        return true;
      });
  return ok && done == out.size();
}

bool collect_iovecs(const GuestMemory& memory, const Descriptors& descs, uint64_t begin,
                    uint64_t end, BlkRequest& out) noexcept {
  out.data_count = 0;
  out.data_len = end - begin;
  return for_each_piece(memory, descs, begin, end, [&](uint8_t* p, uint64_t n) {
    if (out.data_count == out.data.size()) return false;
    out.data[out.data_count++] = iovec{p, n};
    return true;
  });
}

// Sector range [sector, sector + count) inside the disk, without overflow.
bool sectors_within(uint64_t sector, uint64_t count, uint64_t capacity) noexcept {
  return range_within(sector, count, 0, capacity);
}

BlkParseResult parse_ranges(const GuestMemory& memory, const Descriptors& descs, uint64_t readable,
                            const BlkDiskLimits& limits, BlkRequest& out) noexcept {
  const bool discard = out.type == kBlkTypeDiscard;
  if (discard ? !limits.discard : !limits.write_zeroes) return BlkParseResult::kUnsupported;
  if (limits.read_only) return BlkParseResult::kIoError;
  const uint64_t payload = readable - kBlkHeaderSize;
  if (payload == 0 || payload % kBlkDiscardSegmentSize != 0) return BlkParseResult::kIoError;
  const uint64_t count = payload / kBlkDiscardSegmentSize;
  if (count > kBlkMaxDiscardSegments) return BlkParseResult::kIoError;
  const uint32_t max_sectors =
      discard ? limits.max_discard_sectors : limits.max_write_zeroes_sectors;
  out.range_count = 0;
  for (uint64_t i = 0; i < count; ++i) {
    std::array<uint8_t, kBlkDiscardSegmentSize> raw{};
    if (!gather(memory, descs, kBlkHeaderSize + i * kBlkDiscardSegmentSize, raw)) {
      return BlkParseResult::kIoError;
    }
    BlkDiscardRange r;
    std::memcpy(&r.sector, raw.data(), 8);
    std::memcpy(&r.num_sectors, raw.data() + 8, 4);
    std::memcpy(&r.flags, raw.data() + 12, 4);
    // Discard has no flags; write-zeroes knows only UNMAP (5.2.6.2).
    const uint32_t allowed_flags = discard ? 0 : kBlkWriteZeroesFlagUnmap;
    if ((r.flags & ~allowed_flags) != 0) return BlkParseResult::kUnsupported;
    if (r.num_sectors > max_sectors ||
        !sectors_within(r.sector, r.num_sectors, limits.capacity_sectors)) {
      return BlkParseResult::kIoError;
    }
    out.ranges[out.range_count++] = r;
  }
  return BlkParseResult::kOk;
}

}  // namespace

BlkParseResult parse_block_request(DescriptorChain& chain, const BlkDiskLimits& limits,
                                   BlkRequest& out) noexcept {
  out.head = chain.head_index();
  out.type = 0;
  out.sector = 0;
  out.data_count = 0;
  out.data_len = 0;
  out.range_count = 0;
  out.status = nullptr;

  Descriptors descs;
  bool any = false;
  while (auto d = chain.next()) {
    any = true;
    descs.last = *d;
    if (descs.count < descs.items.size()) {
      descs.items[descs.count++] = *d;
    } else {
      descs.truncated = true;
    }
  }
  if (chain.error() != ChainError::kNone || !any) return BlkParseResult::kMalformed;
  // The status byte is the last byte of the last descriptor, which must be device-writable.
  if (!descs.last.device_writable || descs.last.len == 0) return BlkParseResult::kMalformed;
  const GuestMemory& memory = chain.memory();
  auto status = memory.span(descs.last.addr + (descs.last.len - 1), 1);
  if (!status) return BlkParseResult::kMalformed;
  out.status = status->data();

  if (descs.truncated) return BlkParseResult::kIoError;
  const uint64_t readable = chain.readable_len();
  const uint64_t writable = chain.writable_len();  // >= 1: includes the status byte
  if (readable < kBlkHeaderSize) return BlkParseResult::kIoError;
  std::array<uint8_t, kBlkHeaderSize> header{};
  if (!gather(memory, descs, 0, header)) return BlkParseResult::kIoError;
  std::memcpy(&out.type, header.data(), 4);
  std::memcpy(&out.sector, header.data() + 8, 8);

  const uint64_t in_begin = readable;
  const uint64_t in_end = readable + writable - 1;  // excludes the status byte
  switch (out.type) {
    case kBlkTypeIn:
    case kBlkTypeOut: {
      const bool is_read = out.type == kBlkTypeIn;
      // A read carries no readable data and a write no writable data besides the status.
      if (is_read ? readable != kBlkHeaderSize : writable != 1) return BlkParseResult::kIoError;
      if (!is_read && limits.read_only) return BlkParseResult::kIoError;
      const uint64_t begin = is_read ? in_begin : kBlkHeaderSize;
      const uint64_t end = is_read ? in_end : readable;
      const uint64_t len = end - begin;
      if (len % kSectorSize != 0) return BlkParseResult::kIoError;
      if (!sectors_within(out.sector, len >> kSectorShift, limits.capacity_sectors)) {
        return BlkParseResult::kIoError;
      }
      if (!collect_iovecs(memory, descs, begin, end, out)) return BlkParseResult::kIoError;
      return BlkParseResult::kOk;
    }
    case kBlkTypeFlush:
      return BlkParseResult::kOk;
    case kBlkTypeGetId: {
      const uint64_t len = std::min<uint64_t>(in_end - in_begin, kBlkIdBytes);
      if (!collect_iovecs(memory, descs, in_begin, in_begin + len, out)) {
        return BlkParseResult::kIoError;
      }
      return BlkParseResult::kOk;
    }
    case kBlkTypeDiscard:
    case kBlkTypeWriteZeroes:
      return parse_ranges(memory, descs, readable, limits, out);
    default:
      return BlkParseResult::kUnsupported;
  }
}

uint32_t block_request_used_len(const BlkRequest& request, bool success) noexcept {
  const bool writes_data = request.type == kBlkTypeIn || request.type == kBlkTypeGetId;
  if (!success || !writes_data) return 1;
  // data_len is bounded by the chain length, which fits in 32 bits.
  return static_cast<uint32_t>(request.data_len + 1);
}

}  // namespace vmm::virtio
