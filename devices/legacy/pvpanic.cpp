#include "devices/legacy/pvpanic.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vmm::devices {

void PvPanic::read(uint64_t /*offset*/, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), uint8_t{0});
  if (!data.empty()) data[0] = kPanicked | kCrashLoaded;
}

void PvPanic::write(uint64_t /*offset*/, std::span<const uint8_t> data) {
  if (data.empty()) return;
  const uint8_t events = data[0];
  if ((events & kPanicked) != 0) {
    spdlog::error("pvpanic: the guest kernel panicked");
    stopper_.request_stop({.reason = StopReason::kGuestPanic});
  } else if ((events & kCrashLoaded) != 0) {
    spdlog::warn("pvpanic: the guest kernel crashed and handed over to its crash kernel");
  }
}

}  // namespace vmm::devices
