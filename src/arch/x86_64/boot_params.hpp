#pragma once
// The Linux x86 zero page (struct boot_params, Documentation/arch/x86/zero-page.rst) and the
// setup header inside it (Documentation/arch/x86/boot.rst). Only the fields the VMM writes are
// named; the rest is padding. Offsets are asserted against the kernel's layout.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "arch/x86_64/e820.hpp"
#include "vmm/memory/guest_address.hpp"

namespace vmm::x86_64 {

inline constexpr uint16_t kBootFlagMagic = 0xaa55;
inline constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS"
inline constexpr uint16_t kBootProtocol212 = 0x020c;
inline constexpr uint8_t kLoaderTypeUndefined = 0xff;
inline constexpr uint8_t kLoadflagLoadedHigh = 1U << 0;
inline constexpr uint8_t kLoadflagCanUseHeap = 1U << 7;
inline constexpr uint16_t kHeapEndPtr = 0xfe00;
inline constexpr uint16_t kVidModeNormal = 0xffff;
// boot.rst: the initrd limit of kernels that do not state one.
inline constexpr uint32_t kDefaultInitrdAddrMax = 0x37ffffff;

struct [[gnu::packed]] SetupHeader {
  uint8_t setup_sects;
  uint16_t root_flags;
  uint32_t syssize;
  uint16_t ram_size;
  uint16_t vid_mode;
  uint16_t root_dev;
  uint16_t boot_flag;
  uint16_t jump;
  uint32_t header;
  uint16_t version;
  uint32_t realmode_swtch;
  uint16_t start_sys_seg;
  uint16_t kernel_version;
  uint8_t type_of_loader;
  uint8_t loadflags;
  uint16_t setup_move_size;
  uint32_t code32_start;
  uint32_t ramdisk_image;
  uint32_t ramdisk_size;
  uint32_t bootsect_kludge;
  uint16_t heap_end_ptr;
  uint8_t ext_loader_ver;
  uint8_t ext_loader_type;
  uint32_t cmd_line_ptr;
  uint32_t initrd_addr_max;
  uint32_t kernel_alignment;
  uint8_t relocatable_kernel;
  uint8_t min_alignment;
  uint16_t xloadflags;
  uint32_t cmdline_size;
  uint32_t hardware_subarch;
  uint64_t hardware_subarch_data;
  uint32_t payload_offset;
  uint32_t payload_length;
  uint64_t setup_data;
  uint64_t pref_address;
  uint32_t init_size;
  uint32_t handover_offset;
  uint32_t kernel_info_offset;
};
static_assert(sizeof(SetupHeader) == 0x7b);

struct [[gnu::packed]] BootParams {
  uint8_t pad_0000[0x070];
  uint64_t acpi_rsdp_addr;  // 0x070: where the RSDP is, so the kernel need not scan (2.14+)
  uint8_t pad_0078[0x0c0 - 0x078];
  uint32_t ext_ramdisk_image;  // 0x0c0: bits 63..32 of the initrd address
  uint32_t ext_ramdisk_size;   // 0x0c4
  uint32_t ext_cmd_line_ptr;   // 0x0c8
  uint8_t pad_00cc[0x1e8 - 0x0cc];
  uint8_t e820_entries;  // 0x1e8
  uint8_t pad_01e9[0x1ef - 0x1e9];
  uint8_t sentinel;  // 0x1ef: must stay 0, or the kernel discards the header fields
  uint8_t pad_01f0;
  SetupHeader hdr;  // 0x1f1
  uint8_t pad_026c[0x2d0 - 0x26c];
  E820Entry e820_table[kE820MaxEntries];  // 0x2d0
  uint8_t pad_0cd0[0x1000 - 0xcd0];
};
static_assert(sizeof(BootParams) == 4096);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0x0c0);
static_assert(offsetof(BootParams, ext_cmd_line_ptr) == 0x0c8);
static_assert(offsetof(BootParams, e820_entries) == 0x1e8);
static_assert(offsetof(BootParams, sentinel) == 0x1ef);
static_assert(offsetof(BootParams, hdr) == 0x1f1);
static_assert(offsetof(BootParams, e820_table) == 0x2d0);
static_assert(offsetof(BootParams, hdr) + offsetof(SetupHeader, boot_flag) == 0x1fe);
static_assert(offsetof(BootParams, hdr) + offsetof(SetupHeader, type_of_loader) == 0x210);
static_assert(offsetof(BootParams, hdr) + offsetof(SetupHeader, cmd_line_ptr) == 0x228);
static_assert(offsetof(BootParams, hdr) + offsetof(SetupHeader, xloadflags) == 0x236);
static_assert(offsetof(BootParams, hdr) + offsetof(SetupHeader, pref_address) == 0x258);
static_assert(offsetof(BootParams, hdr) + offsetof(SetupHeader, init_size) == 0x260);

struct ZeroPageConfig {
  // The image's setup header bytes from file offset 0x1f1 (bzImage), or empty (ELF kernel: a
  // minimal protocol 2.12 header is made up). Bytes beyond the known header are ignored.
  std::span<const uint8_t> setup_header;
  GuestAddress cmdline;
  std::optional<GuestAddress> initrd;
  uint64_t initrd_size = 0;
  std::span<const E820Entry> e820;  // at most kE820MaxEntries
  std::optional<GuestAddress> acpi_rsdp;
};

// Builds the zero page. Pure; throws vmm::Error when e820 has too many entries.
[[nodiscard]] BootParams build_boot_params(const ZeroPageConfig& config);

}  // namespace vmm::x86_64
