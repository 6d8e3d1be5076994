#pragma once
// The BIOS e820 memory map the kernel reads from the zero page.
#include <cstdint>
#include <vector>

#include "vmm/memory/guest_memory.hpp"

namespace vmm::x86_64 {

enum class E820Type : uint32_t { kRam = 1, kReserved = 2 };

// Layout of struct boot_e820_entry in the zero page.
struct [[gnu::packed]] E820Entry {
  uint64_t addr = 0;
  uint64_t size = 0;
  uint32_t type = 0;
};
static_assert(sizeof(E820Entry) == 20);

inline constexpr size_t kE820MaxEntries = 128;  // E820_MAX_ENTRIES_ZEROPAGE

// All guest RAM as kRam except [kEbdaStart, kHighMemStart) (EBDA, VGA hole, BIOS), which is
// one kReserved entry. Sorted by address. Throws vmm::Error beyond kE820MaxEntries.
[[nodiscard]] std::vector<E820Entry> build_e820_map(const GuestMemory& mem);

}  // namespace vmm::x86_64
