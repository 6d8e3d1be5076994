#include "arch/x86_64/gdt.hpp"

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {

static_assert(kGdtAddr + kBootGdtLimit + 1 <= kIdtAddr, "boot GDT overlaps the IDT");

std::array<uint64_t, kBootGdtEntries> boot_gdt() noexcept {
  return {
      gdt_entry(0, 0, 0),
      gdt_entry(kCode64Flags, 0, 0xfffff),
      gdt_entry(kData32Flags, 0, 0xfffff),
      gdt_entry(kTssFlags, 0, 0xfffff),
  };
}

kvm_segment segment_from_gdt_entry(uint64_t entry, uint16_t index) noexcept {
  const auto bit = [entry](unsigned pos) { return static_cast<uint8_t>((entry >> pos) & 1U); };
  const auto base =
      static_cast<uint64_t>(((entry >> 16) & 0x00ffffffULL) | (((entry >> 56) & 0xffULL) << 24));
  auto limit = static_cast<uint32_t>((entry & 0xffffULL) | (((entry >> 48) & 0xfULL) << 16));
  const uint8_t granularity = bit(55);
  if (granularity != 0) limit = (limit << 12) | 0xfffU;  // 4 KiB units
  const uint8_t present = bit(47);

  kvm_segment seg{};
  seg.base = base;
  seg.limit = limit;
  seg.selector = static_cast<uint16_t>(index * 8U);
  seg.type = static_cast<uint8_t>((entry >> 40) & 0xfULL);
  seg.present = present;
  seg.dpl = static_cast<uint8_t>((entry >> 45) & 0x3ULL);
  seg.db = bit(54);
  seg.s = bit(44);
  seg.l = bit(53);
  seg.g = granularity;
  seg.avl = bit(52);
  seg.unusable = present == 0 ? 1 : 0;
  return seg;
}

void write_boot_gdt(const GuestMemory& mem) {
  if (!mem.write_obj(GuestAddress(kGdtAddr), boot_gdt())) {
    throw Error("guest RAM does not cover the boot GDT");
  }
  if (!mem.write_obj<uint64_t>(GuestAddress(kIdtAddr), 0)) {
    throw Error("guest RAM does not cover the boot IDT");
  }
}

}  // namespace vmm::x86_64
