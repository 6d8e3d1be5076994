#pragma once
// The boot GDT and IDT a 64-bit Linux entry needs, and the conversion from a GDT descriptor to
// the segment-register cache KVM loads (struct kvm_segment). KVM never reads this GDT for the
// initial state (the sregs carry the cached copies); it is there because the guest may reload a
// selector before it installs its own table.
#include <linux/kvm.h>

#include <array>
#include <cstdint>

#include "vmm/memory/guest_memory.hpp"

namespace vmm::x86_64 {

// Descriptor attribute word as 16 bits: access byte (P, DPL, S, type) in bits 7:0 and the
// flags nibble (G, D/B, L, AVL) in bits 15:12, limit bits 19:16 excluded.
inline constexpr uint16_t kCode64Flags = 0xa09b;  // present, exec/read, accessed, L, G
inline constexpr uint16_t kData32Flags = 0xc093;  // present, read/write, accessed, D/B, G
inline constexpr uint16_t kTssFlags = 0x808b;     // present, busy 64-bit TSS, G

inline constexpr uint16_t kBootGdtNullIndex = 0;
inline constexpr uint16_t kBootGdtCodeIndex = 1;
inline constexpr uint16_t kBootGdtDataIndex = 2;
inline constexpr uint16_t kBootGdtTssIndex = 3;
inline constexpr std::size_t kBootGdtEntries = 4;
// DTR limits are "size - 1".
inline constexpr uint16_t kBootGdtLimit = kBootGdtEntries * sizeof(uint64_t) - 1;
inline constexpr uint16_t kBootIdtLimit = sizeof(uint64_t) - 1;

// Packs base, 20-bit limit and the attribute word into an 8-byte descriptor.
[[nodiscard]] constexpr uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit) noexcept {
  return ((static_cast<uint64_t>(base) & 0xff000000ULL) << (56 - 24)) |
         ((static_cast<uint64_t>(flags) & 0x0000f0ffULL) << 40) |
         ((static_cast<uint64_t>(limit) & 0x000f0000ULL) << (48 - 16)) |
         ((static_cast<uint64_t>(base) & 0x00ffffffULL) << 16) |
         (static_cast<uint64_t>(limit) & 0x0000ffffULL);
}

// null, 64-bit code, data, TSS; all flat (base 0, limit 4 GiB).
[[nodiscard]] std::array<uint64_t, kBootGdtEntries> boot_gdt() noexcept;

// The segment cache for `entry` loaded through GDT slot `index` (selector = index * 8, RPL 0).
// The limit is returned in bytes, scaled by the granularity bit as the CPU does.
[[nodiscard]] kvm_segment segment_from_gdt_entry(uint64_t entry, uint16_t index) noexcept;

// Writes boot_gdt() at kGdtAddr and a zeroed (empty) IDT at kIdtAddr.
// Throws vmm::Error when that low memory is not RAM.
void write_boot_gdt(const GuestMemory& mem);

}  // namespace vmm::x86_64
