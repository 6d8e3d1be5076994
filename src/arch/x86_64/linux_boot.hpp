#pragma once
// Everything needed to enter a 64-bit Linux kernel: kernel (bzImage or ELF vmlinux), initrd,
// command line, e820 map and zero page, all written into guest memory.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vmm/memory/guest_memory.hpp"

namespace vmm::x86_64 {

struct LinuxBootConfig {
  std::filesystem::path kernel;
  std::optional<std::filesystem::path> initrd;
  std::string cmdline;
  std::optional<GuestAddress> acpi_rsdp;  // handed over in the zero page
  // Bytes appended to the initrd in guest memory, 4-byte aligned (vmm's own cpio archive, such
  // as the guest agent's). Without an initrd it is the whole initramfs.
  std::vector<uint8_t> initrd_appendix{};  // {}: positional initialisers may leave it out
};

struct LinuxBootInfo {
  GuestAddress entry;        // 64-bit entry point: RIP
  GuestAddress boot_params;  // the zero page: RSI
  GuestAddress kernel_start;
  uint64_t kernel_size = 0;  // bytes the kernel owns from kernel_start (init_size for bzImage)
  std::optional<GuestAddress> initrd;
  uint64_t initrd_size = 0;
};

// Loads kernel, initrd and command line, and writes the e820 map and zero page at
// kZeroPageAddr. Throws vmm::ConfigError (one line naming the file or value at fault) for
// every user error. Only writes guest memory; the caller sets up page tables, GDT and
// registers (RIP = entry, RSI = boot_params).
[[nodiscard]] LinuxBootInfo load_linux(const GuestMemory& mem, const LinuxBootConfig& cfg);

}  // namespace vmm::x86_64
