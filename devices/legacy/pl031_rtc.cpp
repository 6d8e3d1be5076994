#include "devices/legacy/pl031_rtc.hpp"

#include <cstring>
#include <utility>

namespace vmm::devices {

Pl031Rtc::Pl031Rtc(Clock clock) : clock_(std::move(clock)) {}

uint32_t Pl031Rtc::counter() {
  // Unsigned arithmetic: the counter wraps at 2^32 like the hardware's, whatever the guest
  // loaded.
  const auto now = static_cast<uint64_t>(static_cast<int64_t>(clock_()));
  return static_cast<uint32_t>(now + static_cast<uint64_t>(offset_));
}

uint32_t Pl031Rtc::read_register(uint64_t offset) {
  switch (offset) {
    case kData:
      return counter();
    case kMatch:
      return match_;
    case kLoad:
      return counter();  // RTCLR reads back the counter's current value
    case kControl:
      return 1;
    case kIrqMask:
      return irq_mask_;
    case kRawStatus:
    case kMaskedStatus:
    case kIrqClear:
      return 0;
    default:
      break;
  }
  if (offset >= kPeriphId0 && offset < kPeriphId0 + 4 * sizeof kIds) {
    return kIds[(offset - kPeriphId0) / 4];
  }
  return 0;
}

void Pl031Rtc::write_register(uint64_t offset, uint32_t value) {
  switch (offset) {
    case kMatch:
      match_ = value;
      break;
    case kLoad:
      // From now on the counter reads `value` plus the seconds that pass.
      offset_ = static_cast<int64_t>(value) - static_cast<int64_t>(clock_());
      break;
    case kIrqMask:
      irq_mask_ = value & 1U;
      break;
    default:
      break;  // RTCDR and the status and id registers are read-only; RTCCR cannot stop it
  }
}

void Pl031Rtc::read(uint64_t offset, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  if (data.size() != 4 || offset % 4 != 0 || offset >= kWindowSize) return;
  uint32_t value = 0;
  {
    std::lock_guard lock(mutex_);
    value = read_register(offset);
  }
  std::memcpy(data.data(), &value, sizeof value);
}

void Pl031Rtc::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 4 || offset % 4 != 0 || offset >= kWindowSize) return;
  uint32_t value = 0;
  std::memcpy(&value, data.data(), sizeof value);
  std::lock_guard lock(mutex_);
  write_register(offset, value);
}

}  // namespace vmm::devices
