#pragma once
// SMBIOS (DMTF DSP0134) tables: how a guest learns who made the machine, what it is called,
// its serial number and UUID (Linux: /sys/class/dmi/id, dmidecode) when no firmware runs.
//
// Placement, all inside [kSmbiosAddr, kSmbiosEnd), where guests scan for the anchors on
// 16-byte boundaries: the SMBIOS 3.0 64-bit entry point ("_SM3_") first, so a reader that
// takes the first anchor it meets takes it; then a 2.1 32-bit entry point ("_SM_") for readers
// that predate 3.0; then the structure table. Both entry points describe the same table.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/common/uuid.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {

// The specification version the structures follow.
inline constexpr uint8_t kSmbiosMajor = 3;
inline constexpr uint8_t kSmbiosMinor = 0;
inline constexpr uint8_t kSmbiosDocRev = 0;

inline constexpr std::size_t kSmbios3EntryPointSize = 0x18;
inline constexpr std::size_t kSmbios2EntryPointSize = 0x1f;
inline constexpr uint64_t kSmbios3EntryPointAddr = kSmbiosAddr;
inline constexpr uint64_t kSmbios2EntryPointAddr = kSmbiosAddr + 0x20;
inline constexpr uint64_t kSmbiosTableAddr = kSmbiosAddr + 0x40;

// Structure types this file writes.
inline constexpr uint8_t kSmbiosTypeBios = 0;
inline constexpr uint8_t kSmbiosTypeSystem = 1;
inline constexpr uint8_t kSmbiosTypeChassis = 3;
inline constexpr uint8_t kSmbiosTypeProcessor = 4;
inline constexpr uint8_t kSmbiosTypeMemoryArray = 16;
inline constexpr uint8_t kSmbiosTypeMemoryDevice = 17;
inline constexpr uint8_t kSmbiosTypeBootInfo = 32;
inline constexpr uint8_t kSmbiosTypeEnd = 127;

// Linux keys some firmware workarounds on the BIOS year; a recent date opts out of those meant
// for old firmware.
inline constexpr const char* kSmbiosDefaultBiosDate = "01/01/2024";

// What the tables say. Empty strings are left out (the structure's string number 0).
struct SmbiosInfo {
  // Type 1 (system); the vendor also names the chassis manufacturer (type 3).
  std::string vendor = "vmm";
  std::string product = "vmm";
  std::string version = VMM_VERSION;
  std::string serial;
  Uuid uuid;  // the nil UUID reads as "not present"
  std::string sku;
  std::string family;
  // Type 0 (BIOS). The major.minor numbers of bios_version also fill the release fields.
  std::string bios_vendor = "vmm";
  std::string bios_version = VMM_VERSION;
  std::string bios_date = kSmbiosDefaultBiosDate;  // mm/dd/yyyy
  bool acpi = false;                               // the guest also gets ACPI tables
  // Types 16 and 17: one memory array holding one device of this size; 0 leaves them out.
  uint64_t memory_bytes = 0;
  // Type 4: one processor package of cpu_count single-threaded cores, as CPUID describes the
  // topology; 0 leaves it out.
  uint32_t cpu_count = 0;
  std::string cpu_manufacturer;
  std::string cpu_version;  // e.g. the CPUID brand string
};

// The structure table: the structures above in type order, handles from 0, ending with type
// 127. Throws vmm::ConfigError when a string holds a NUL character.
[[nodiscard]] std::vector<uint8_t> build_smbios_structures(const SmbiosInfo& info);

// The 24-byte SMBIOS 3.0 entry point for a table of `table_size` bytes at `table_addr`.
[[nodiscard]] std::array<uint8_t, kSmbios3EntryPointSize> build_smbios3_entry_point(
    uint64_t table_addr, uint32_t table_size) noexcept;

// The 31-byte SMBIOS 2.1 entry point for `table` at `table_addr`; its structure count and
// largest structure come from walking the table. Throws vmm::Error when the table is longer
// than 64 KiB or not a sequence of well-formed structures.
[[nodiscard]] std::array<uint8_t, kSmbios2EntryPointSize> build_smbios2_entry_point(
    uint32_t table_addr, std::span<const uint8_t> table);

// Writes both entry points and the table at their fixed addresses. Throws vmm::ConfigError
// when the strings make the table too long for [kSmbiosTableAddr, kSmbiosEnd), vmm::Error
// when that range is not guest RAM.
void write_smbios(const GuestMemory& mem, const SmbiosInfo& info);

}  // namespace vmm::x86_64
