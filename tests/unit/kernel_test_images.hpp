#pragma once
// Builders for crafted kernel images (bzImage, ELF64) and temporary files, shared by the
// loader tests. Images are built byte by byte so each test states exactly what is wrong.
#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace vmm::testing_images {

template <typename T>
void put(std::vector<uint8_t>& bytes, uint64_t offset, T value) {
  if (bytes.size() < offset + sizeof(T)) bytes.resize(offset + sizeof(T));
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <typename T>
T get(const std::vector<uint8_t>& bytes, uint64_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// A byte pattern that differs at every offset within 251 bytes, so misplaced copies show up.
inline uint8_t pattern_byte(uint64_t i) { return static_cast<uint8_t>((i * 7 + 3) % 251); }

struct BzImageSpec {
  uint16_t version = 0x020f;
  uint8_t setup_sects = 1;
  uint16_t boot_flag = 0xaa55;
  uint32_t magic = 0x53726448;  // "HdrS"
  uint8_t loadflags = 0x01;     // LOADED_HIGH
  uint16_t xloadflags = 0x03;   // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  bool relocatable = true;
  uint32_t kernel_alignment = 0x200000;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x400000;
  uint32_t cmdline_size = 255;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t payload_size = 0x3000;  // protected-mode bytes after the setup sectors
  uint8_t header_jump = 0x6a;      // header ends at 0x202 + 0x6a = 0x26c
};

inline uint64_t setup_bytes(const BzImageSpec& spec) {
  return (uint64_t{spec.setup_sects == 0 ? 4U : spec.setup_sects} + 1) * 512;
}

inline std::vector<uint8_t> make_bzimage(const BzImageSpec& spec) {
  std::vector<uint8_t> img(setup_bytes(spec) + spec.payload_size, 0);
  put<uint8_t>(img, 0x1f1, spec.setup_sects);
  put<uint32_t>(img, 0x1f4, (spec.payload_size + 15) / 16);  // syssize
  put<uint16_t>(img, 0x1fe, spec.boot_flag);
  put<uint8_t>(img, 0x200, 0xeb);  // short jump over the header
  put<uint8_t>(img, 0x201, spec.header_jump);
  put<uint32_t>(img, 0x202, spec.magic);
  put<uint16_t>(img, 0x206, spec.version);
  put<uint8_t>(img, 0x211, spec.loadflags);
  put<uint32_t>(img, 0x22c, spec.initrd_addr_max);
  put<uint32_t>(img, 0x230, spec.kernel_alignment);
  put<uint8_t>(img, 0x234, spec.relocatable ? 1 : 0);
  put<uint16_t>(img, 0x236, spec.xloadflags);
  put<uint32_t>(img, 0x238, spec.cmdline_size);
  put<uint64_t>(img, 0x258, spec.pref_address);
  put<uint32_t>(img, 0x260, spec.init_size);
  for (uint64_t i = 0; i < spec.payload_size; ++i) img[setup_bytes(spec) + i] = pattern_byte(i);
  return img;
}

struct ElfSegmentSpec {
  uint64_t paddr = 0;
  uint64_t file_size = 0;
  uint64_t memory_size = 0;
  uint32_t type = PT_LOAD;
};

// ELF64 header, program headers, then each segment's file bytes in order (pattern bytes).
inline std::vector<uint8_t> make_elf(const std::vector<ElfSegmentSpec>& segments, uint64_t entry,
                                     uint16_t machine = EM_X86_64) {
  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_type = ET_EXEC;
  ehdr.e_machine = machine;
  ehdr.e_version = EV_CURRENT;
  ehdr.e_entry = entry;
  ehdr.e_phoff = sizeof(Elf64_Ehdr);
  ehdr.e_ehsize = sizeof(Elf64_Ehdr);
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = static_cast<uint16_t>(segments.size());
  std::vector<uint8_t> img;
  put(img, 0, ehdr);
  uint64_t data = sizeof(Elf64_Ehdr) + segments.size() * sizeof(Elf64_Phdr);
  for (size_t i = 0; i < segments.size(); ++i) {
    Elf64_Phdr phdr{};
    phdr.p_type = segments[i].type;
    phdr.p_offset = data;
    phdr.p_paddr = segments[i].paddr;
    phdr.p_vaddr = segments[i].paddr + 0xffffffff80000000ULL;
    phdr.p_filesz = segments[i].file_size;
    phdr.p_memsz = segments[i].memory_size;
    put(img, sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), phdr);
    img.resize(data + segments[i].file_size);
    for (uint64_t b = 0; b < segments[i].file_size; ++b) img[data + b] = pattern_byte(b + i);
    data += segments[i].file_size;
  }
  return img;
}

inline uint64_t phdr_offset(size_t index) {
  return sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr);
}

// A file under the test temp directory, removed when the object goes away.
class TempFile {
 public:
  TempFile(const std::string& name, const std::vector<uint8_t>& bytes)
      : path_(std::filesystem::path(::testing::TempDir()) /
              (std::to_string(::getpid()) + "_" + name)) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) ADD_FAILURE() << "cannot write " << path_;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace vmm::testing_images
