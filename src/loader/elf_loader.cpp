#include "loader/elf_loader.hpp"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::loader {
namespace {

template <typename T>
T read_struct(std::span<const uint8_t> image, uint64_t offset) {
  if (!range_within(offset, sizeof(T), 0, image.size())) {
    throw ConfigError(
        fmt::format("ELF structure at offset {:#x} is past the end of the file", offset));
  }
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));
  return value;
}

void check_header(const Elf64_Ehdr& ehdr) {
  if (ehdr.e_ident[EI_CLASS] != ELFCLASS64) throw ConfigError("ELF kernel is not 64-bit");
  if (ehdr.e_ident[EI_DATA] != ELFDATA2LSB) throw ConfigError("ELF kernel is not little-endian");
  if (ehdr.e_machine != EM_X86_64) {
    throw ConfigError(fmt::format("ELF machine {} is not x86-64", ehdr.e_machine));
  }
  if (ehdr.e_type != ET_EXEC) {
    throw ConfigError(fmt::format("ELF type {} is not an executable", ehdr.e_type));
  }
  if (ehdr.e_phentsize != sizeof(Elf64_Phdr)) {
    throw ConfigError(
        fmt::format("ELF program header size {} is not {}", ehdr.e_phentsize, sizeof(Elf64_Phdr)));
  }
  if (ehdr.e_phnum == 0 || ehdr.e_phnum == PN_XNUM) {
    throw ConfigError("ELF kernel has no program headers");
  }
}

}  // namespace

ElfKernelInfo parse_elf_kernel(std::span<const uint8_t> image) {
  const auto ehdr = read_struct<Elf64_Ehdr>(image, 0);
  if (std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0) throw ConfigError("no ELF magic");
  check_header(ehdr);

  // e_phnum < 0xffff and the entry size is fixed, so the table size cannot overflow.
  const uint64_t table_size = uint64_t{ehdr.e_phnum} * sizeof(Elf64_Phdr);
  if (!range_within(ehdr.e_phoff, table_size, 0, image.size())) {
    throw ConfigError("ELF program header table is past the end of the file");
  }

  ElfKernelInfo info;
  info.entry = GuestAddress(ehdr.e_entry);
  bool entry_loaded = false;
  for (uint64_t i = 0; i < ehdr.e_phnum; ++i) {
    const auto phdr = read_struct<Elf64_Phdr>(image, ehdr.e_phoff + i * sizeof(Elf64_Phdr));
    if (phdr.p_type != PT_LOAD) continue;
    if (phdr.p_filesz > phdr.p_memsz) {
      throw ConfigError(fmt::format("ELF segment {} has filesz {:#x} > memsz {:#x}", i,
                                    phdr.p_filesz, phdr.p_memsz));
    }
    if (!range_within(phdr.p_offset, phdr.p_filesz, 0, image.size())) {
      throw ConfigError(
          fmt::format("ELF segment {} (offset {:#x}, {:#x} bytes) is past the end "
                      "of the file",
                      i, phdr.p_offset, phdr.p_filesz));
    }
    if (!checked_add(phdr.p_paddr, phdr.p_memsz)) {
      throw ConfigError(fmt::format("ELF segment {} wraps around the address space", i));
    }
    entry_loaded = entry_loaded || range_within(ehdr.e_entry, 1, phdr.p_paddr, phdr.p_memsz);
    info.segments.push_back(
        {phdr.p_offset, phdr.p_filesz, phdr.p_memsz, GuestAddress(phdr.p_paddr)});
  }
  if (info.segments.empty()) throw ConfigError("ELF kernel has no PT_LOAD segment");
  if (!entry_loaded) {
    throw ConfigError(
        fmt::format("ELF entry point {:#x} is outside every loadable segment", ehdr.e_entry));
  }
  return info;
}

LoadedKernel load_elf_kernel(const GuestMemory& mem, std::span<const uint8_t> image,
                             const ElfKernelInfo& info) {
  constexpr uint64_t k4GiB = 4 * x86_64::kGiB;
  uint64_t lowest = ~uint64_t{0};
  uint64_t highest = 0;
  // Check every segment before writing any, so a bad image leaves guest memory untouched.
  for (const auto& seg : info.segments) {
    if (seg.paddr.raw < x86_64::kHighMemStart ||
        !range_within(seg.paddr.raw, seg.memory_size, 0, k4GiB) ||
        !mem.contains(seg.paddr, seg.memory_size)) {
      throw ConfigError(
          fmt::format("ELF segment at {:#x} ({:#x} bytes) is not inside guest RAM "
                      "between 1 MiB and 4 GiB",
                      seg.paddr.raw, seg.memory_size));
    }
    if (!range_within(seg.file_offset, seg.file_size, 0, image.size()) ||
        seg.file_size > seg.memory_size) {
      throw ConfigError("ELF kernel does not match the headers it was parsed from");
    }
    lowest = std::min(lowest, seg.paddr.raw);
    highest = std::max(highest, seg.paddr.raw + seg.memory_size);
  }
  for (const auto& seg : info.segments) {
    const bool ok = mem.write(seg.paddr, image.subspan(seg.file_offset, seg.file_size)) &&
                    mem.fill(seg.paddr + seg.file_size, seg.memory_size - seg.file_size, 0);
    if (!ok) throw Error("ELF segment vanished from guest memory while loading");
  }
  return LoadedKernel{info.entry, GuestAddress(lowest), highest - lowest};
}

}  // namespace vmm::loader
