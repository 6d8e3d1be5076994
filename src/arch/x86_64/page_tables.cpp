#include "arch/x86_64/page_tables.hpp"

#include <array>

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {

namespace {

using PageTable = std::array<uint64_t, kPageTableEntries>;
static_assert(sizeof(PageTable) == kPageTableSize);

// The tables must not overlap each other (layout constants, checked at compile time).
static_assert(kPml4Addr + kPageTableSize <= kPdptAddr);
static_assert(kPdptAddr + kPageTableSize <= kPdAddr);
static_assert(kPdAddr + kBootPageDirectories * kPageTableSize <= kCmdlineAddr);
static_assert(kPml4Addr % kPageTableSize == 0 && kPdptAddr % kPageTableSize == 0 &&
              kPdAddr % kPageTableSize == 0);

void write_table(const GuestMemory& mem, uint64_t addr, const PageTable& table) {
  if (!mem.write_obj(GuestAddress(addr), table)) {
    throw Error("guest RAM does not cover the boot page tables");
  }
}

}  // namespace

void write_identity_page_tables(const GuestMemory& mem) {
  constexpr uint64_t kTableFlags = kPtePresent | kPteWritable;

  PageTable pml4{};
  pml4[0] = kPdptAddr | kTableFlags;
  write_table(mem, kPml4Addr, pml4);

  PageTable pdpt{};
  for (std::size_t i = 0; i < kBootPageDirectories; ++i) {
    pdpt[i] = (kPdAddr + i * kPageTableSize) | kTableFlags;
  }
  write_table(mem, kPdptAddr, pdpt);

  for (std::size_t dir = 0; dir < kBootPageDirectories; ++dir) {
    PageTable pd{};
    for (std::size_t i = 0; i < kPageTableEntries; ++i) {
      const uint64_t phys = (dir * kPageTableEntries + i) * kLargePageSize;
      pd[i] = phys | kTableFlags | kPteHugePage;
    }
    write_table(mem, kPdAddr + dir * kPageTableSize, pd);
  }
}

}  // namespace vmm::x86_64
