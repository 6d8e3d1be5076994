#pragma once
// Numbers from the virtio 1.2 specification that more than one file needs: device status
// bits, generic feature bits, device types and the split-ring layout.
#include <cstdint>

namespace vmm::virtio {

// 2.1 Device Status Field.
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusDeviceNeedsReset = 64;
inline constexpr uint8_t kStatusFailed = 128;

// 6 Reserved Feature Bits (bit numbers).
inline constexpr unsigned kFeatureRingIndirectDesc = 28;
inline constexpr unsigned kFeatureRingEventIdx = 29;
inline constexpr unsigned kFeatureVersion1 = 32;

[[nodiscard]] constexpr uint64_t feature_bit(unsigned bit) noexcept { return uint64_t{1} << bit; }

// 5 Device Types.
enum class DeviceType : uint32_t {
  kNet = 1,
  kBlock = 2,
  kConsole = 3,
  k9p = 9,
  kVsock = 19,
};

// 2.7 Split virtqueues.
inline constexpr uint16_t kMaxQueueSize = 32768;
inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;
inline constexpr uint16_t kUsedFlagNoNotify = 1;

inline constexpr uint64_t kDescriptorSize = 16;  // le64 addr, le32 len, le16 flags, le16 next
inline constexpr uint64_t kDescTableAlign = 16;
inline constexpr uint64_t kAvailRingAlign = 2;
inline constexpr uint64_t kUsedRingAlign = 4;
inline constexpr uint64_t kRingHeaderSize = 4;  // le16 flags, le16 idx
inline constexpr uint64_t kAvailElemSize = 2;   // le16 descriptor index
inline constexpr uint64_t kUsedElemSize = 8;    // le32 id, le32 len
inline constexpr uint64_t kRingEventSize = 2;   // used_event / avail_event trailer

}  // namespace vmm::virtio
