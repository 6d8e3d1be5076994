#pragma once
// What the firmware tables say about the machine beyond its device inventory, the same on
// every architecture.
#include <cstdint>

#include "vmm/common/uuid.hpp"

namespace vmm::arch {

struct FirmwareInfo {
  uint32_t cpu_count = 1;
  uint64_t memory_bytes = 0;
  Uuid uuid;  // the machine's identity, also its serial number
};

}  // namespace vmm::arch
