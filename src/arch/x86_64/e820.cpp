#include "arch/x86_64/e820.hpp"

#include <algorithm>

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

void add(std::vector<E820Entry>& map, uint64_t start, uint64_t end, E820Type type) {
  if (end > start) map.push_back({start, end - start, static_cast<uint32_t>(type)});
}

}  // namespace

std::vector<E820Entry> build_e820_map(const GuestMemory& mem) {
  std::vector<E820Entry> map;
  bool reserved_added = false;
  for (const auto& region : mem.regions()) {
    const uint64_t start = region.start.raw;
    const uint64_t end = region.end().raw;
    // Clip the reserved area out of every region; regions are sorted, so the reserved entry
    // goes in before the first RAM that lies above it.
    add(map, start, std::min(end, kEbdaStart), E820Type::kRam);
    if (!reserved_added && end > kEbdaStart) {
      add(map, kEbdaStart, kHighMemStart, E820Type::kReserved);
      reserved_added = true;
    }
    add(map, std::max(start, kHighMemStart), end, E820Type::kRam);
  }
  if (!reserved_added) add(map, kEbdaStart, kHighMemStart, E820Type::kReserved);
  if (map.size() > kE820MaxEntries) {
    throw Error("guest memory has too many regions for the e820 map");
  }
  return map;
}

}  // namespace vmm::x86_64
