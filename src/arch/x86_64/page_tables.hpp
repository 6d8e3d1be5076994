#pragma once
// Boot page tables: 64-bit mode cannot run without paging, so the kernel is entered on an
// identity map of the first 4 GiB (covering the kernel, boot_params, command line, initrd in
// the low 4 GiB, and the MMIO hole) built from 2 MiB pages. Linux replaces it early.
#include <cstddef>
#include <cstdint>

#include "vmm/memory/guest_memory.hpp"

namespace vmm::x86_64 {

// Page-table entry bits (Intel SDM vol. 3, 4.5).
inline constexpr uint64_t kPtePresent = 1ULL << 0;
inline constexpr uint64_t kPteWritable = 1ULL << 1;
inline constexpr uint64_t kPteHugePage = 1ULL << 7;  // PS: this PDE maps a 2 MiB page

inline constexpr std::size_t kPageTableEntries = 512;
inline constexpr uint64_t kPageTableSize = kPageTableEntries * sizeof(uint64_t);
inline constexpr uint64_t kLargePageSize = 2ULL << 20;
inline constexpr std::size_t kBootPageDirectories = 4;  // one per GiB

// PML4 at kPml4Addr -> PDPT at kPdptAddr -> 4 page directories from kPdAddr.
// Every entry of all six pages is written (unused ones zero), so stale memory cannot leak in.
// Throws vmm::Error when that low memory is not RAM.
void write_identity_page_tables(const GuestMemory& mem);

}  // namespace vmm::x86_64
