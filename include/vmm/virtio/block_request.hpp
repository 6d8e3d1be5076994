#pragma once
// virtio-blk requests (virtio 1.2, 5.2.6): constants and a parser that turns one descriptor
// chain into a request the block device can execute. The parser is a pure function of the
// chain and the disk's limits (no I/O, no allocation), so it can be fuzzed on its own.
//
// Layout-independent (VIRTIO_F_VERSION_1 implies ANY_LAYOUT): the device-readable bytes are
// the 16-byte header followed by OUT data or discard segments; the device-writable bytes are
// IN data followed by the one status byte.
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "vmm/virtio/queue.hpp"

namespace vmm::virtio {

// Feature bits (5.2.3).
inline constexpr unsigned kBlkFeatureSegMax = 2;
inline constexpr unsigned kBlkFeatureRo = 5;
inline constexpr unsigned kBlkFeatureBlkSize = 6;
inline constexpr unsigned kBlkFeatureFlush = 9;
inline constexpr unsigned kBlkFeatureMq = 12;
inline constexpr unsigned kBlkFeatureDiscard = 13;
inline constexpr unsigned kBlkFeatureWriteZeroes = 14;

// Request types and status values (5.2.6).
inline constexpr uint32_t kBlkTypeIn = 0;
inline constexpr uint32_t kBlkTypeOut = 1;
inline constexpr uint32_t kBlkTypeFlush = 4;
inline constexpr uint32_t kBlkTypeGetId = 8;
inline constexpr uint32_t kBlkTypeDiscard = 11;
inline constexpr uint32_t kBlkTypeWriteZeroes = 13;
inline constexpr uint8_t kBlkStatusOk = 0;
inline constexpr uint8_t kBlkStatusIoErr = 1;
inline constexpr uint8_t kBlkStatusUnsupp = 2;
inline constexpr uint32_t kBlkWriteZeroesFlagUnmap = 1;

inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint64_t kSectorShift = 9;
inline constexpr uint64_t kBlkHeaderSize = 16;          // le32 type, le32 reserved, le64 sector
inline constexpr uint64_t kBlkDiscardSegmentSize = 16;  // le64 sector, le32 num, le32 flags
inline constexpr size_t kBlkIdBytes = 20;
// Data segments per request: advertised as seg_max.
inline constexpr size_t kBlkMaxSegments = 128;
// Discard / write-zeroes ranges per request: advertised as max_discard_seg etc.
inline constexpr size_t kBlkMaxDiscardSegments = 16;

struct BlkDiscardRange {
  uint64_t sector = 0;
  uint32_t num_sectors = 0;
  uint32_t flags = 0;
};

// What the parser needs to know about the disk.
struct BlkDiskLimits {
  uint64_t capacity_sectors = 0;
  bool read_only = false;
  bool discard = false;       // DISCARD offered
  bool write_zeroes = false;  // WRITE_ZEROES offered
  uint32_t max_discard_sectors = 0;
  uint32_t max_write_zeroes_sectors = 0;
};

struct BlkRequest {
  uint16_t head = 0;
  uint32_t type = 0;
  uint64_t sector = 0;
  // IN / OUT / GET_ID data, as host views of guest RAM.
  std::array<iovec, kBlkMaxSegments> data{};
  size_t data_count = 0;
  uint64_t data_len = 0;
  // DISCARD / WRITE_ZEROES ranges, copied out of guest memory.
  std::array<BlkDiscardRange, kBlkMaxDiscardSegments> ranges{};
  size_t range_count = 0;
  // The status byte in guest RAM; set whenever the result is not kMalformed.
  uint8_t* status = nullptr;
};

enum class BlkParseResult : uint8_t {
  kOk,           // execute the request
  kIoError,      // complete it with VIRTIO_BLK_S_IOERR
  kUnsupported,  // complete it with VIRTIO_BLK_S_UNSUPP
  kMalformed,    // broken chain or no writable status byte: the device needs a reset
};

// Walks `chain` to its end and fills `out`. Never touches memory outside guest RAM.
[[nodiscard]] BlkParseResult parse_block_request(DescriptorChain& chain,
                                                 const BlkDiskLimits& limits,
                                                 BlkRequest& out) noexcept;

// Bytes the device reports as written for a completed request (data read + status byte).
[[nodiscard]] uint32_t block_request_used_len(const BlkRequest& request, bool success) noexcept;

}  // namespace vmm::virtio
