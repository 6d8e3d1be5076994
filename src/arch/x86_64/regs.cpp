#include "arch/x86_64/regs.hpp"

#include "arch/x86_64/gdt.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {

kvm_regs boot_regs(GuestAddress entry, GuestAddress boot_params) noexcept {
  kvm_regs regs{};
  regs.rip = entry.raw;
  regs.rsi = boot_params.raw;
  regs.rsp = kBootStackTop;
  regs.rbp = kBootStackTop;
  regs.rflags = kBootRflags;
  return regs;
}

void set_long_mode_sregs(kvm_sregs& sregs) noexcept {
  const auto gdt = boot_gdt();
  const kvm_segment code = segment_from_gdt_entry(gdt[kBootGdtCodeIndex], kBootGdtCodeIndex);
  const kvm_segment data = segment_from_gdt_entry(gdt[kBootGdtDataIndex], kBootGdtDataIndex);
  const kvm_segment tss = segment_from_gdt_entry(gdt[kBootGdtTssIndex], kBootGdtTssIndex);

  sregs.cs = code;
  sregs.ds = data;
  sregs.es = data;
  sregs.fs = data;
  sregs.gs = data;
  sregs.ss = data;
  sregs.tr = tss;

  sregs.gdt.base = kGdtAddr;
  sregs.gdt.limit = kBootGdtLimit;
  sregs.idt.base = kIdtAddr;
  sregs.idt.limit = kBootIdtLimit;

  // Assigned rather than OR-ed: the reset value has CD|NW set, which would leave the guest
  // running with caches disabled until it rewrites CR0 itself.
  sregs.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Pg;
  sregs.cr3 = kPml4Addr;
  sregs.cr4 = kCr4Pae;
  sregs.efer = kEferLme | kEferLma;
}

kvm_fpu boot_fpu() noexcept {
  kvm_fpu fpu{};
  fpu.fcw = kBootFpuControlWord;
  fpu.mxcsr = kBootMxcsr;
  return fpu;
}

}  // namespace vmm::x86_64
