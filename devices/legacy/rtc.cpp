#include "devices/legacy/rtc.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace vmm::devices {
namespace {

constexpr uint8_t kIndexMask = 0x7f;  // bit 7 of the index port masks NMIs on real boards

[[nodiscard]] constexpr uint8_t to_bcd(int value) noexcept {
  return static_cast<uint8_t>(((value / 10) << 4) | (value % 10));
}

}  // namespace

std::time_t Rtc::host_clock() {
  timespec now{};
  if (clock_gettime(CLOCK_REALTIME, &now) != 0) return 0;
  return now.tv_sec;
}

Rtc::Rtc(Clock clock) : clock_(std::move(clock)) {
  cmos_[kRegA] = kRegADefault;
  cmos_[kRegB] = kRegB24Hour;
  cmos_[kRegD] = kRegDValidRam;
}

void Rtc::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  // A wide access covers consecutive ports: outw(0x70) sets the index and writes the data.
  for (size_t i = 0; i < data.size(); ++i) data[i] = read_port(offset + i);
}

void Rtc::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) write_port(offset + i, data[i]);
}

uint8_t Rtc::read_port(uint64_t port) {
  if (port == 1) return read_register(index_);
  return 0xff;  // the index port is write-only
}

void Rtc::write_port(uint64_t port, uint8_t value) {
  if (port == 0) {
    index_ = value & kIndexMask;
  } else if (port == 1) {
    write_register(index_, value);
  }
}

uint8_t Rtc::read_register(uint8_t index) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury:
      break;  // the clock, below
    case kRegA:
      // Reads are served from a fresh snapshot, so an update is never in progress.
      return static_cast<uint8_t>(cmos_[kRegA] & ~kRegAUpdateInProgress);
    case kRegC: {
      const uint8_t flags = cmos_[kRegC];
      cmos_[kRegC] = 0;  // read clears the interrupt flags
      return flags;
    }
    default:
      return index < kRegisterCount ? cmos_[index] : 0xff;
  }

  const std::time_t now = clock_();
  std::tm tm{};
  if (gmtime_r(&now, &tm) == nullptr) {
    spdlog::warn("rtc: host time {} cannot be represented", static_cast<long long>(now));
    return 0;
  }
  const int year = tm.tm_year + 1900;
  switch (index) {
    case kSeconds:
      return encode(tm.tm_sec);
    case kMinutes:
      return encode(tm.tm_min);
    case kHours: {
      if ((cmos_[kRegB] & kRegB24Hour) != 0) return encode(tm.tm_hour);
      // 12-hour mode: 12, 1..11 with bit 7 set in the afternoon.
      const int hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
      return static_cast<uint8_t>(encode(hour12) | (tm.tm_hour >= 12 ? kHourPm : 0));
    }
    case kDayOfWeek:
      return encode(tm.tm_wday + 1);  // 1 = Sunday
    case kDayOfMonth:
      return encode(tm.tm_mday);
    case kMonth:
      return encode(tm.tm_mon + 1);
    case kYear:
      return encode(year % 100);
    case kCentury:
      return encode(year / 100 % 100);
    default:
      return 0xff;
  }
}

void Rtc::write_register(uint8_t index, uint8_t value) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury:
      SPDLOG_DEBUG("rtc: ignored write {:#04x} to clock register {:#04x}", value, index);
      return;
    case kRegA:
      cmos_[kRegA] = static_cast<uint8_t>(value & ~kRegAUpdateInProgress);
      return;
    case kRegC:
    case kRegD:
      return;  // read-only
    default:
      if (index < kRegisterCount) cmos_[index] = value;
      return;
  }
}

uint8_t Rtc::encode(int value) const noexcept {
  if ((cmos_[kRegB] & kRegBBinary) != 0) return static_cast<uint8_t>(value);
  return to_bcd(value);
}

}  // namespace vmm::devices
