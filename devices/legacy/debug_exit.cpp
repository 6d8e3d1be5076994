#include "devices/legacy/debug_exit.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vmm::devices {

void DebugExit::read(uint64_t /*offset*/, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), uint8_t{0xff});
}

void DebugExit::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty() || data.size() > sizeof(uint64_t)) return;
  uint64_t value = 0;
  for (size_t i = 0; i < data.size(); ++i) value |= uint64_t{data[i]} << (8 * i);
  spdlog::info("debug-exit: guest wrote {:#x} at offset {}", value, offset);
  stopper_.request_stop({.reason = StopReason::kDebugExit, .debug_exit_value = value});
}

}  // namespace vmm::devices
