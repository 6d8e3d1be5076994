#pragma once
// ELF64 x86-64 kernels (vmlinux): PT_LOAD segments go to their physical addresses and the ELF
// entry point is the 64-bit entry.
#include <cstdint>
#include <span>
#include <vector>

#include "loader/kernel_image.hpp"
#include "vmm/memory/guest_memory.hpp"

namespace vmm::loader {

struct ElfSegment {
  uint64_t file_offset = 0;
  uint64_t file_size = 0;    // bytes copied from the file
  uint64_t memory_size = 0;  // bytes occupied in guest memory (the rest is zeroed)
  GuestAddress paddr;
};

struct ElfKernelInfo {
  GuestAddress entry;
  std::vector<ElfSegment> segments;  // PT_LOAD only, in file order; never empty
};

// Validates the ELF header and program headers against the buffer: ELF64, little-endian,
// ET_EXEC, EM_X86_64, program header table inside the file, every PT_LOAD with
// filesz <= memsz and its file bytes inside the file, an entry point inside a PT_LOAD.
// Throws ConfigError (one line, without the file name). Pure.
[[nodiscard]] ElfKernelInfo parse_elf_kernel(std::span<const uint8_t> image);

// Copies each segment to guest RAM, zeroing memsz beyond filesz. Every segment must lie in
// RAM below 4 GiB and at or above 1 MiB (the boot structures live below). Throws ConfigError.
[[nodiscard]] LoadedKernel load_elf_kernel(const GuestMemory& mem, std::span<const uint8_t> image,
                                           const ElfKernelInfo& info);

}  // namespace vmm::loader
