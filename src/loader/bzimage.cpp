#include "loader/bzimage.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>

#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::loader {
namespace {

// Header field offsets in the file.
constexpr uint64_t kSetupSects = 0x1f1;
constexpr uint64_t kSyssize = 0x1f4;
constexpr uint64_t kBootFlag = 0x1fe;
constexpr uint64_t kJumpOperand = 0x201;
constexpr uint64_t kHeaderMagic = 0x202;
constexpr uint64_t kVersion = 0x206;
constexpr uint64_t kLoadflags = 0x211;
constexpr uint64_t kInitrdAddrMax = 0x22c;
constexpr uint64_t kKernelAlignment = 0x230;
constexpr uint64_t kRelocatableKernel = 0x234;
constexpr uint64_t kXloadflags = 0x236;
constexpr uint64_t kCmdlineSize = 0x238;
constexpr uint64_t kPrefAddress = 0x258;
constexpr uint64_t kInitSize = 0x260;
// Protocol 2.12 defines every field up to and including init_size.
constexpr uint64_t kMinHeaderEnd = kInitSize + 4;

constexpr uint16_t kBootFlagValue = 0xaa55;
constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS" little-endian
constexpr uint64_t kSectorSize = 512;
constexpr uint32_t kDefaultSetupSects = 4;
constexpr uint64_t k4GiB = 4 * x86_64::kGiB;

// Little-endian field read; the caller has already checked the header lies in the buffer, the
// check here keeps a mistake from ever reading past it.
template <typename T>
T field(std::span<const uint8_t> image, uint64_t offset) {
  if (!range_within(offset, sizeof(T), 0, image.size())) {
    throw ConfigError(
        fmt::format("bzImage is truncated: header field at {:#x} is past the end "
                    "of the file",
                    offset));
  }
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));
  return value;
}

uint64_t mib_ceil(uint64_t bytes) { return (bytes + x86_64::kMiB - 1) / x86_64::kMiB; }

// RAM below 4 GiB holds [addr, addr+len) in one region.
bool fits_low(const GuestMemory& mem, uint64_t addr, uint64_t len) {
  return range_within(addr, len, 0, k4GiB) && mem.contains(GuestAddress(addr), len);
}

}  // namespace

BzImageInfo parse_bzimage(std::span<const uint8_t> image) {
  if (image.size() < kHeaderMagic + 4 || field<uint32_t>(image, kHeaderMagic) != kHdrSMagic) {
    throw ConfigError("no \"HdrS\" magic at offset 0x202: not a bzImage");
  }
  if (const auto flag = field<uint16_t>(image, kBootFlag); flag != kBootFlagValue) {
    throw ConfigError(fmt::format("bzImage boot flag is {:#06x}, expected 0xaa55", flag));
  }
  BzImageInfo info;
  info.protocol_version = field<uint16_t>(image, kVersion);
  if (info.protocol_version < kMinBootProtocol) {
    throw ConfigError(fmt::format("kernel boot protocol {}.{:02} is too old, need 2.12+",
                                  info.protocol_version >> 8, info.protocol_version & 0xff));
  }
  info.setup_header_end = kSetupHeaderJumpEnd + field<uint8_t>(image, kJumpOperand);
  if (info.setup_header_end < kMinHeaderEnd) {
    throw ConfigError(
        fmt::format("bzImage setup header ends at {:#x}, protocol 2.12 needs at "
                    "least {:#x}",
                    info.setup_header_end, kMinHeaderEnd));
  }
  if (info.setup_header_end > image.size()) {
    throw ConfigError("bzImage is truncated inside its setup header");
  }
  info.xloadflags = field<uint16_t>(image, kXloadflags);
  if ((info.xloadflags & kXlfKernel64) == 0) {
    throw ConfigError("kernel has no 64-bit entry point (XLF_KERNEL_64 not set)");
  }
  info.loadflags = field<uint8_t>(image, kLoadflags);
  if ((info.loadflags & kLoadflagLoadedHigh) == 0) {
    throw ConfigError("kernel is a zImage (not loaded high); only bzImage is supported");
  }

  info.setup_sects = field<uint8_t>(image, kSetupSects);
  if (info.setup_sects == 0) info.setup_sects = kDefaultSetupSects;
  info.kernel_offset = (uint64_t{info.setup_sects} + 1) * kSectorSize;
  if (info.kernel_offset >= image.size()) {
    throw ConfigError(
        fmt::format("bzImage is truncated: {} setup sectors but the file is only "
                    "{} bytes",
                    info.setup_sects, image.size()));
  }
  info.kernel_size = image.size() - info.kernel_offset;
  // syssize counts 16-byte paragraphs of the protected-mode part.
  const uint64_t declared = uint64_t{field<uint32_t>(image, kSyssize)} * 16;
  if (declared > info.kernel_size) {
    throw ConfigError(
        fmt::format("bzImage is truncated: the kernel declares {} bytes of "
                    "protected-mode code but the file holds {}",
                    declared, info.kernel_size));
  }

  info.relocatable = field<uint8_t>(image, kRelocatableKernel) != 0;
  info.kernel_alignment = field<uint32_t>(image, kKernelAlignment);
  if (info.relocatable && !std::has_single_bit(info.kernel_alignment)) {
    throw ConfigError(
        fmt::format("bzImage kernel_alignment {:#x} is not a power of two", info.kernel_alignment));
  }
  info.pref_address = field<uint64_t>(image, kPrefAddress);
  info.init_size = field<uint32_t>(image, kInitSize);
  info.cmdline_size = field<uint32_t>(image, kCmdlineSize);
  info.initrd_addr_max = field<uint32_t>(image, kInitrdAddrMax);
  return info;
}

GuestAddress choose_bzimage_load_address(const GuestMemory& mem, const BzImageInfo& info) {
  const uint64_t need = info.memory_footprint();
  if (!info.relocatable) {
    if (fits_low(mem, x86_64::kHighMemStart, need)) return GuestAddress(x86_64::kHighMemStart);
    throw ConfigError(
        fmt::format("kernel is not relocatable and needs {} MiB at 1 MiB; guest "
                    "memory is too small",
                    mib_ceil(need)));
  }
  if (fits_low(mem, info.pref_address, need)) return GuestAddress(info.pref_address);
  if (!std::has_single_bit(info.kernel_alignment)) {
    throw ConfigError(
        fmt::format("bzImage kernel_alignment {:#x} is not a power of two", info.kernel_alignment));
  }
  // The first aligned address in a region is the only candidate there: if the kernel does not
  // fit from it, it fits from no later one in that region either.
  for (const auto& region : mem.regions()) {
    const uint64_t from = std::max(region.start.raw, x86_64::kHighMemStart);
    const auto last = checked_add(from, info.kernel_alignment - 1);
    if (!last) continue;
    const uint64_t candidate = align_down(*last, info.kernel_alignment);
    if (fits_low(mem, candidate, need)) return GuestAddress(candidate);
  }
  throw ConfigError(
      fmt::format("kernel needs {} MiB of RAM below 4 GiB above 1 MiB; guest memory "
                  "is too small",
                  mib_ceil(need)));
}

LoadedKernel load_bzimage(const GuestMemory& mem, std::span<const uint8_t> image,
                          const BzImageInfo& info) {
  const GuestAddress load = choose_bzimage_load_address(mem, info);
  if (!range_within(info.kernel_offset, info.kernel_size, 0, image.size()) ||
      !mem.write(load, image.subspan(info.kernel_offset, info.kernel_size))) {
    throw ConfigError("bzImage does not match the header it was parsed from");
  }
  // The 64-bit entry point is 0x200 bytes past the start of the protected-mode kernel.
  constexpr uint64_t kEntry64Offset = 0x200;
  return LoadedKernel{load + kEntry64Offset, load, info.memory_footprint()};
}

}  // namespace vmm::loader
