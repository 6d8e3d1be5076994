#include "arch/x86_64/smbios.hpp"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <string_view>
#include <utility>

#include "arch/x86_64/byte_writer.hpp"
#include "vmm/common/error.hpp"

namespace vmm::x86_64 {

namespace {

static_assert(kSmbios3EntryPointAddr % 16 == 0 && kSmbios2EntryPointAddr % 16 == 0,
              "guests look for the anchors on paragraph boundaries");
static_assert(kSmbios3EntryPointAddr + kSmbios3EntryPointSize <= kSmbios2EntryPointAddr);
static_assert(kSmbios2EntryPointAddr + kSmbios2EntryPointSize <= kSmbiosTableAddr);
static_assert(kSmbiosTableAddr % 16 == 0);
static_assert(kSmbiosEnd - kSmbiosTableAddr <= 0xffff, "the 2.1 entry point's length is a WORD");
static_assert(kSmbiosEnd <= 1ULL << 32, "the 2.1 entry point's address is a DWORD");

constexpr std::size_t kTableCapacity = kSmbiosEnd - kSmbiosTableAddr;
constexpr uint8_t kSmbios3EntryPointRevision = 1;         // the 3.0 layout
constexpr uint8_t kSmbios2EntryPointRevision = 0;         // the 2.1 layout, formatted area reserved
constexpr std::size_t kSmbios2IntermediateOffset = 0x10;  // "_DMI_"

// Formatted-area lengths of the structure layouts written (the version that defined them).
constexpr uint8_t kBiosLength = 0x18;          // 2.4
constexpr uint8_t kSystemLength = 0x1b;        // 2.4
constexpr uint8_t kChassisLength = 0x16;       // 2.7, no contained elements
constexpr uint8_t kProcessorLength = 0x30;     // 3.0
constexpr uint8_t kMemoryArrayLength = 0x17;   // 2.7
constexpr uint8_t kMemoryDeviceLength = 0x28;  // 2.8
constexpr uint8_t kBootInfoLength = 0x0b;
constexpr uint8_t kEndLength = 0x04;

// Field values (DSP0134, the enumerations of each structure).
constexpr uint64_t kBiosCharacteristicsNotSupported = 1ULL << 3;
constexpr uint8_t kBiosExt1Acpi = 1U << 0;
constexpr uint8_t kBiosExt2VirtualMachine = 1U << 4;
constexpr uint8_t kNoRelease = 0xff;  // BIOS / embedded controller release not given
constexpr uint8_t kWakeUpPowerSwitch = 0x06;
constexpr uint8_t kChassisOther = 0x01;
constexpr uint8_t kStateSafe = 0x03;
constexpr uint8_t kSecurityUnknown = 0x02;
constexpr uint8_t kProcessorCentral = 0x03;
constexpr uint8_t kProcessorFamilyOther = 0x01;
constexpr uint8_t kProcessorPopulatedEnabled = 0x41;
constexpr uint8_t kProcessorUpgradeOther = 0x01;
constexpr uint16_t kProcessor64Bit = 1U << 2;
constexpr uint16_t kProcessorMultiCore = 1U << 3;
constexpr uint16_t kNoCache = 0xffff;
constexpr uint8_t kCountUseWord = 0xff;  // core/thread counts above 255: see the WORD fields
constexpr uint8_t kLocationOther = 0x01;
constexpr uint8_t kUseSystemMemory = 0x03;
constexpr uint8_t kEccUnknown = 0x02;
constexpr uint16_t kNoErrorInfo = 0xfffe;
constexpr uint32_t kUseExtendedCapacity = 0x80000000;  // type 16 capacity, KiB
constexpr uint16_t kWidthUnknown = 0xffff;
constexpr uint16_t kSizeUseExtended = 0x7fff;  // type 17 size, MiB
constexpr uint16_t kSizeInKiB = 0x8000;
constexpr uint32_t kMaxExtendedSizeMiB = 0x7fffffff;
constexpr uint8_t kFormFactorOther = 0x01;
constexpr uint8_t kMemoryTypeRam = 0x07;
constexpr uint16_t kTypeDetailOther = 1U << 1;
constexpr uint8_t kBootNoErrors = 0;

uint8_t byte_sum(std::span<const uint8_t> bytes) noexcept {
  return static_cast<uint8_t>(
      std::accumulate(bytes.begin(), bytes.end(), 0U, [](unsigned a, uint8_t b) { return a + b; }));
}

// Sets bytes[at] so that bytes[first, first + len) sum to 0 modulo 256.
template <std::size_t N>
void fix_checksum(std::array<uint8_t, N>& bytes, std::size_t first, std::size_t len,
                  std::size_t at) noexcept {
  bytes[at] = 0;
  bytes[at] =
      static_cast<uint8_t>(0x100U - byte_sum(std::span<const uint8_t>(bytes).subspan(first, len)));
}

// One structure: a formatted area that starts with the 4-byte header, then its string set.
class Structure {
 public:
  Structure(uint8_t type, uint16_t handle) {
    area_.u8(type);
    area_.u8(0);  // length, once the formatted area is complete
    area_.u16(handle);
  }

  ByteWriter& area() noexcept { return area_; }

  // The string's number in this structure's set; 0, the spec's "no string", for an empty one.
  uint8_t string(const std::string& s) {
    if (s.empty()) return 0;
    if (s.find('\0') != std::string::npos) {
      throw ConfigError("SMBIOS string '" + s.substr(0, s.find('\0')) +
                        "...' holds a NUL character");
    }
    const auto found = std::find(strings_.begin(), strings_.end(), s);
    if (found != strings_.end()) return static_cast<uint8_t>(found - strings_.begin() + 1);
    strings_.push_back(s);
    return static_cast<uint8_t>(strings_.size());
  }

  // Appends the structure to `table`: each string NUL-terminated and one more NUL after the
  // set, or two NULs when there are no strings.
  void append_to(std::vector<uint8_t>& table, uint8_t expected_length) {
    if (area_.size() != expected_length) {
      throw Error("SMBIOS type " + std::to_string(area_.bytes()[0]) + " structure is " +
                  std::to_string(area_.size()) + " bytes, expected " +
                  std::to_string(expected_length));
    }
    area_.put_u8_at(1, expected_length);
    for (const auto& s : strings_) {
      area_.chars(s);
      area_.u8(0);
    }
    if (strings_.empty()) area_.u8(0);
    area_.u8(0);
    table.insert(table.end(), area_.bytes().begin(), area_.bytes().end());
  }

 private:
  ByteWriter area_;
  std::vector<std::string> strings_;
};

// "major.minor[...]" -> {major, minor} when both fit a byte below the "not given" value.
std::pair<uint8_t, uint8_t> release_numbers(std::string_view version) noexcept {
  const char* p = version.data();
  const char* end = version.data() + version.size();
  unsigned major = 0;
  unsigned minor = 0;
  auto r = std::from_chars(p, end, major);
  if (r.ec != std::errc{} || r.ptr == end || *r.ptr != '.') return {kNoRelease, kNoRelease};
  r = std::from_chars(r.ptr + 1, end, minor);
  if (r.ec != std::errc{} || major >= kNoRelease || minor >= kNoRelease) {
    return {kNoRelease, kNoRelease};
  }
  return {static_cast<uint8_t>(major), static_cast<uint8_t>(minor)};
}

// Since SMBIOS 2.6 the first three UUID fields are stored little-endian.
std::array<uint8_t, 16> smbios_uuid_bytes(const Uuid& uuid) noexcept {
  auto out = uuid.bytes;
  std::reverse(out.begin(), out.begin() + 4);
  std::reverse(out.begin() + 4, out.begin() + 6);
  std::reverse(out.begin() + 6, out.begin() + 8);
  return out;
}

void add_bios(std::vector<uint8_t>& table, uint16_t handle, const SmbiosInfo& info) {
  Structure s(kSmbiosTypeBios, handle);
  auto& w = s.area();
  w.u8(s.string(info.bios_vendor));
  w.u8(s.string(info.bios_version));
  w.u16(0);  // starting address segment: there is no BIOS image in the guest's memory
  w.u8(s.string(info.bios_date));
  w.u8(0);  // ROM size: 64 KiB
  w.u64(kBiosCharacteristicsNotSupported);
  w.u8(info.acpi ? kBiosExt1Acpi : 0);
  w.u8(kBiosExt2VirtualMachine);
  const auto [major, minor] = release_numbers(info.bios_version);
  w.u8(major);
  w.u8(minor);
  w.u8(kNoRelease);  // no embedded controller
  w.u8(kNoRelease);
  s.append_to(table, kBiosLength);
}

void add_system(std::vector<uint8_t>& table, uint16_t handle, const SmbiosInfo& info) {
  Structure s(kSmbiosTypeSystem, handle);
  auto& w = s.area();
  w.u8(s.string(info.vendor));
  w.u8(s.string(info.product));
  w.u8(s.string(info.version));
  w.u8(s.string(info.serial));
  for (const uint8_t b : smbios_uuid_bytes(info.uuid)) w.u8(b);
  w.u8(kWakeUpPowerSwitch);
  w.u8(s.string(info.sku));
  w.u8(s.string(info.family));
  s.append_to(table, kSystemLength);
}

void add_chassis(std::vector<uint8_t>& table, uint16_t handle, const SmbiosInfo& info) {
  Structure s(kSmbiosTypeChassis, handle);
  auto& w = s.area();
  w.u8(s.string(info.vendor));
  w.u8(kChassisOther);
  w.u8(0);           // version
  w.u8(0);           // serial number
  w.u8(0);           // asset tag
  w.u8(kStateSafe);  // boot-up state
  w.u8(kStateSafe);  // power supply state
  w.u8(kStateSafe);  // thermal state
  w.u8(kSecurityUnknown);
  w.u32(0);  // OEM-defined
  w.u8(0);   // height: unspecified
  w.u8(0);   // power cords: unspecified
  w.u8(0);   // contained elements: none
  w.u8(0);   // contained element record length
  w.u8(0);   // SKU number
  s.append_to(table, kChassisLength);
}

void add_processor(std::vector<uint8_t>& table, uint16_t handle, const SmbiosInfo& info) {
  Structure s(kSmbiosTypeProcessor, handle);
  auto& w = s.area();
  const uint32_t cores = info.cpu_count;
  const auto count_byte = static_cast<uint8_t>(std::min<uint32_t>(cores, kCountUseWord));
  const auto count_word = static_cast<uint16_t>(std::min<uint32_t>(cores, 0xffff));
  w.u8(s.string("CPU 0"));  // socket designation
  w.u8(kProcessorCentral);
  w.u8(kProcessorFamilyOther);
  w.u8(s.string(info.cpu_manufacturer));
  w.u64(0);  // processor ID: the guest has CPUID itself
  w.u8(s.string(info.cpu_version));
  w.u8(0);   // voltage: not given
  w.u16(0);  // external clock: unknown
  w.u16(0);  // max speed: unknown
  w.u16(0);  // current speed: unknown
  w.u8(kProcessorPopulatedEnabled);
  w.u8(kProcessorUpgradeOther);
  w.u16(kNoCache);  // L1, L2, L3 cache handles: no type 7 structures
  w.u16(kNoCache);
  w.u16(kNoCache);
  w.u8(0);           // serial number
  w.u8(0);           // asset tag
  w.u8(0);           // part number
  w.u8(count_byte);  // cores
  w.u8(count_byte);  // cores enabled
  w.u8(count_byte);  // threads: one per core
  w.u16(static_cast<uint16_t>(kProcessor64Bit | (cores > 1 ? kProcessorMultiCore : 0)));
  w.u16(kProcessorFamilyOther);  // processor family 2
  w.u16(count_word);             // core count 2
  w.u16(count_word);             // core enabled 2
  w.u16(count_word);             // thread count 2
  s.append_to(table, kProcessorLength);
}

void add_memory_array(std::vector<uint8_t>& table, uint16_t handle, uint64_t bytes) {
  Structure s(kSmbiosTypeMemoryArray, handle);
  auto& w = s.area();
  const uint64_t kib = bytes >> 10;
  const bool extended = kib >= kUseExtendedCapacity;
  w.u8(kLocationOther);
  w.u8(kUseSystemMemory);
  w.u8(kEccUnknown);
  w.u32(extended ? kUseExtendedCapacity : static_cast<uint32_t>(kib));
  w.u16(kNoErrorInfo);
  w.u16(1);  // memory devices
  w.u64(extended ? bytes : 0);
  s.append_to(table, kMemoryArrayLength);
}

void add_memory_device(std::vector<uint8_t>& table, uint16_t handle, uint16_t array_handle,
                       uint64_t bytes) {
  Structure s(kSmbiosTypeMemoryDevice, handle);
  auto& w = s.area();
  const uint64_t mib = bytes >> 20;
  uint16_t size = 0;
  uint32_t extended_size = 0;
  if (mib == 0) {
    size = static_cast<uint16_t>(kSizeInKiB | (bytes >> 10));
  } else if (mib < kSizeUseExtended) {
    size = static_cast<uint16_t>(mib);
  } else {
    size = kSizeUseExtended;
    extended_size = static_cast<uint32_t>(std::min<uint64_t>(mib, kMaxExtendedSizeMiB));
  }
  w.u16(array_handle);
  w.u16(kNoErrorInfo);
  w.u16(kWidthUnknown);  // total width
  w.u16(kWidthUnknown);  // data width
  w.u16(size);
  w.u8(kFormFactorOther);
  w.u8(0);                   // device set: none
  w.u8(s.string("DIMM 0"));  // device locator
  w.u8(0);                   // bank locator
  w.u8(kMemoryTypeRam);
  w.u16(kTypeDetailOther);
  w.u16(0);  // speed: unknown
  w.u8(0);   // manufacturer
  w.u8(0);   // serial number
  w.u8(0);   // asset tag
  w.u8(0);   // part number
  w.u8(0);   // attributes: rank unknown
  w.u32(extended_size);
  w.u16(0);  // configured speed: unknown
  w.u16(0);  // minimum, maximum and configured voltage: unknown
  w.u16(0);
  w.u16(0);
  s.append_to(table, kMemoryDeviceLength);
}

void add_boot_info(std::vector<uint8_t>& table, uint16_t handle) {
  Structure s(kSmbiosTypeBootInfo, handle);
  s.area().zeros(6);  // reserved
  s.area().u8(kBootNoErrors);
  s.append_to(table, kBootInfoLength);
}

void add_end(std::vector<uint8_t>& table, uint16_t handle) {
  Structure s(kSmbiosTypeEnd, handle);
  s.append_to(table, kEndLength);
}

struct TableShape {
  uint16_t count = 0;
  uint16_t largest = 0;
};

// Walks the structures: each formatted area, then strings up to the double NUL.
TableShape table_shape(std::span<const uint8_t> table) {
  TableShape shape;
  std::size_t off = 0;
  while (off < table.size()) {
    const std::size_t start = off;
    if (table.size() - off < kEndLength || table[off + 1] < kEndLength ||
        table.size() - off < table[off + 1]) {
      throw Error("malformed SMBIOS structure at table offset " + std::to_string(off));
    }
    off += table[off + 1];
    while (off + 1 < table.size() && (table[off] != 0 || table[off + 1] != 0)) ++off;
    if (off + 1 >= table.size()) {
      throw Error("SMBIOS structure at table offset " + std::to_string(start) +
                  " has no string set terminator");
    }
    off += 2;
    ++shape.count;
    shape.largest = std::max(shape.largest, static_cast<uint16_t>(off - start));
  }
  return shape;
}

}  // namespace

std::vector<uint8_t> build_smbios_structures(const SmbiosInfo& info) {
  std::vector<uint8_t> table;
  uint16_t handle = 0;
  add_bios(table, handle++, info);
  add_system(table, handle++, info);
  add_chassis(table, handle++, info);
  if (info.cpu_count > 0) add_processor(table, handle++, info);
  if (info.memory_bytes > 0) {
    const uint16_t array = handle++;
    add_memory_array(table, array, info.memory_bytes);
    add_memory_device(table, handle++, array, info.memory_bytes);
  }
  add_boot_info(table, handle++);
  add_end(table, handle);
  return table;
}

std::array<uint8_t, kSmbios3EntryPointSize> build_smbios3_entry_point(
    uint64_t table_addr, uint32_t table_size) noexcept {
  ByteWriter w;
  w.chars("_SM3_");
  w.u8(0);  // checksum
  w.u8(kSmbios3EntryPointSize);
  w.u8(kSmbiosMajor);
  w.u8(kSmbiosMinor);
  w.u8(kSmbiosDocRev);
  w.u8(kSmbios3EntryPointRevision);
  w.u8(0);            // reserved
  w.u32(table_size);  // maximum size; exact here
  w.u64(table_addr);
  std::array<uint8_t, kSmbios3EntryPointSize> ep{};
  std::copy(w.bytes().begin(), w.bytes().end(), ep.begin());
  fix_checksum(ep, 0, ep.size(), 5);
  return ep;
}

std::array<uint8_t, kSmbios2EntryPointSize> build_smbios2_entry_point(
    uint32_t table_addr, std::span<const uint8_t> table) {
  if (table.size() > 0xffff) {
    throw Error("SMBIOS table of " + std::to_string(table.size()) +
                " bytes is too long for a 2.1 entry point");
  }
  const TableShape shape = table_shape(table);
  ByteWriter w;
  w.chars("_SM_");
  w.u8(0);  // checksum
  w.u8(kSmbios2EntryPointSize);
  w.u8(kSmbiosMajor);
  w.u8(kSmbiosMinor);
  w.u16(shape.largest);
  w.u8(kSmbios2EntryPointRevision);
  w.zeros(5);  // formatted area
  w.chars("_DMI_");
  w.u8(0);  // intermediate checksum
  w.u16(static_cast<uint16_t>(table.size()));
  w.u32(table_addr);
  w.u16(shape.count);
  w.u8(static_cast<uint8_t>((kSmbiosMajor << 4) | kSmbiosMinor));  // BCD revision
  std::array<uint8_t, kSmbios2EntryPointSize> ep{};
  std::copy(w.bytes().begin(), w.bytes().end(), ep.begin());
  // The intermediate checksum first: the whole-structure checksum covers it.
  fix_checksum(ep, kSmbios2IntermediateOffset, ep.size() - kSmbios2IntermediateOffset,
               kSmbios2IntermediateOffset + 5);
  fix_checksum(ep, 0, ep.size(), 4);
  return ep;
}

void write_smbios(const GuestMemory& mem, const SmbiosInfo& info) {
  const auto table = build_smbios_structures(info);
  if (table.size() > kTableCapacity) {
    throw ConfigError("SMBIOS tables need " + std::to_string(table.size()) +
                      " bytes, more than the " + std::to_string(kTableCapacity) +
                      " their area holds: shorten the identification strings");
  }
  const auto ep3 = build_smbios3_entry_point(kSmbiosTableAddr, static_cast<uint32_t>(table.size()));
  const auto ep2 = build_smbios2_entry_point(static_cast<uint32_t>(kSmbiosTableAddr), table);
  // One image from the first anchor to the table's end, so the gaps are zero too.
  std::vector<uint8_t> image(kSmbiosTableAddr - kSmbiosAddr + table.size(), 0);
  std::copy(ep3.begin(), ep3.end(), image.begin() + (kSmbios3EntryPointAddr - kSmbiosAddr));
  std::copy(ep2.begin(), ep2.end(), image.begin() + (kSmbios2EntryPointAddr - kSmbiosAddr));
  std::copy(table.begin(), table.end(), image.begin() + (kSmbiosTableAddr - kSmbiosAddr));
  if (!mem.write(GuestAddress(kSmbiosAddr), image)) {
    throw Error("guest RAM does not cover the SMBIOS area");
  }
}

}  // namespace vmm::x86_64
