#include "arch/x86_64/smbios.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "support/run_command.hpp"
#include "unit/kernel_test_images.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

using testing_images::TempFile;

// An independent reader of the structure table, following DSP0134 chapter 6.1.
struct ParsedStructure {
  uint8_t type = 0;
  uint8_t length = 0;
  uint16_t handle = 0;
  std::vector<uint8_t> area;  // the formatted area, header included
  std::vector<std::string> strings;
  std::size_t total = 0;  // formatted area + string set

  template <typename T>
  [[nodiscard]] T field(std::size_t off) const {
    T v{};
    EXPECT_LE(off + sizeof(T), area.size()) << "type " << int{type} << " offset " << off;
    if (off + sizeof(T) <= area.size()) std::memcpy(&v, area.data() + off, sizeof(T));
    return v;
  }
  // The string a BYTE field at `off` refers to; "" for string number 0.
  [[nodiscard]] std::string string_at(std::size_t off) const {
    const auto n = field<uint8_t>(off);
    if (n == 0) return "";
    EXPECT_LE(n, strings.size()) << "type " << int{type} << " offset " << off;
    return n <= strings.size() ? strings[n - 1] : "";
  }
};

// Parses the whole table, checking the framing of every structure as it goes.
std::vector<ParsedStructure> parse_table(const std::vector<uint8_t>& table) {
  std::vector<ParsedStructure> out;
  std::size_t off = 0;
  while (off < table.size()) {
    ParsedStructure s;
    if (table.size() - off < 4) {
      ADD_FAILURE() << "truncated header at " << off;
      break;
    }
    s.type = table[off];
    s.length = table[off + 1];
    std::memcpy(&s.handle, &table[off + 2], 2);
    if (s.length < 4 || off + s.length > table.size()) {
      ADD_FAILURE() << "bad length " << int{s.length} << " at " << off;
      break;
    }
    s.area.assign(table.begin() + static_cast<std::ptrdiff_t>(off),
                  table.begin() + static_cast<std::ptrdiff_t>(off + s.length));
    std::size_t p = off + s.length;
    if (p + 1 < table.size() && table[p] == 0 && table[p + 1] == 0) {
      p += 2;  // no strings
    } else {
      // Strings: non-empty, NUL-terminated, the set ended by one more NUL.
      while (p < table.size() && table[p] != 0) {
        const std::size_t start = p;
        while (p < table.size() && table[p] != 0) ++p;
        if (p >= table.size()) {
          ADD_FAILURE() << "unterminated string in type " << int{s.type};
          return out;
        }
        s.strings.emplace_back(reinterpret_cast<const char*>(&table[start]), p - start);
        ++p;
      }
      if (p >= table.size()) {
        ADD_FAILURE() << "string set of type " << int{s.type} << " lacks its final NUL";
        return out;
      }
      ++p;
    }
    s.total = p - off;
    out.push_back(s);
    off = p;
    if (s.type == kSmbiosTypeEnd) break;
  }
  EXPECT_EQ(off, table.size()) << "bytes after the end-of-table structure";
  return out;
}

const ParsedStructure* find_type(const std::vector<ParsedStructure>& all, uint8_t type) {
  for (const auto& s : all) {
    if (s.type == type) return &s;
  }
  return nullptr;
}

uint8_t byte_sum(const uint8_t* p, std::size_t n) {
  return static_cast<uint8_t>(
      std::accumulate(p, p + n, 0U, [](unsigned a, uint8_t b) { return a + b; }));
}

template <typename T>
T load(const std::vector<uint8_t>& bytes, std::size_t off) {
  T v{};
  EXPECT_LE(off + sizeof(T), bytes.size());
  if (off + sizeof(T) <= bytes.size()) std::memcpy(&v, bytes.data() + off, sizeof(T));
  return v;
}

template <typename T>
void store(std::vector<uint8_t>& bytes, std::size_t off, T v) {
  std::memcpy(bytes.data() + off, &v, sizeof(T));
}

const Uuid kUuid{{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89,
                  0xab, 0xcd, 0xef}};

SmbiosInfo full_info() {
  SmbiosInfo info;
  info.vendor = "Example Corp";
  info.product = "Example VM";
  info.version = "1.2.3";
  info.serial = "SN-0042";
  info.uuid = kUuid;
  info.sku = "EX-1";
  info.family = "Virtual";
  info.bios_vendor = "Example BIOS";
  info.bios_version = "4.7.1";
  info.bios_date = "03/14/2025";
  info.acpi = true;
  info.memory_bytes = 2 * kGiB;
  info.cpu_count = 4;
  info.cpu_manufacturer = "GenuineIntel";
  info.cpu_version = "Example CPU @ 2.00GHz";
  return info;
}

// Guest RAM over the BIOS area, written as the VM would.
GuestMemory written(const SmbiosInfo& info) {
  auto mem = GuestMemory::create_regions({{GuestAddress(0), 1 * kMiB}});
  write_smbios(mem, info);
  return mem;
}

std::vector<uint8_t> read_bytes(const GuestMemory& mem, uint64_t addr, std::size_t n) {
  std::vector<uint8_t> out(n);
  EXPECT_TRUE(mem.read(GuestAddress(addr), out));
  return out;
}

std::vector<uint8_t> guest_table(const GuestMemory& mem) {
  const auto ep = read_bytes(mem, kSmbios3EntryPointAddr, kSmbios3EntryPointSize);
  return read_bytes(mem, load<uint64_t>(ep, 0x10), load<uint32_t>(ep, 0x0c));
}

TEST(Smbios, Entry3FieldsAndChecksum) {
  const auto mem = written(full_info());
  const auto ep = read_bytes(mem, kSmbiosAddr, kSmbios3EntryPointSize);
  EXPECT_EQ(std::string(ep.begin(), ep.begin() + 5), "_SM3_");
  EXPECT_EQ(kSmbios3EntryPointAddr, kSmbiosAddr);
  EXPECT_EQ(byte_sum(ep.data(), ep.size()), 0);
  EXPECT_EQ(ep[0x06], 0x18);  // length
  EXPECT_EQ(ep[0x07], 3);     // SMBIOS 3.0.0
  EXPECT_EQ(ep[0x08], 0);
  EXPECT_EQ(ep[0x09], 0);
  EXPECT_EQ(ep[0x0a], 1);  // entry point revision
  EXPECT_EQ(ep[0x0b], 0);
  const auto addr = load<uint64_t>(ep, 0x10);
  EXPECT_EQ(addr, kSmbiosTableAddr);
  EXPECT_EQ(addr % 16, 0u);
  const auto size = load<uint32_t>(ep, 0x0c);
  EXPECT_EQ(size, build_smbios_structures(full_info()).size());
  EXPECT_LE(addr + size, kSmbiosEnd);
  EXPECT_EQ(read_bytes(mem, addr, size), build_smbios_structures(full_info()));
}

TEST(Smbios, Entry21FieldsAndChecksums) {
  const auto mem = written(full_info());
  const auto ep = read_bytes(mem, kSmbios2EntryPointAddr, kSmbios2EntryPointSize);
  EXPECT_GT(kSmbios2EntryPointAddr, kSmbios3EntryPointAddr);  // guests meet _SM3_ first
  EXPECT_EQ(kSmbios2EntryPointAddr % 16, 0u);
  EXPECT_EQ(std::string(ep.begin(), ep.begin() + 4), "_SM_");
  EXPECT_EQ(byte_sum(ep.data(), ep.size()), 0);
  EXPECT_EQ(ep[0x05], 0x1f);
  EXPECT_EQ(ep[0x06], 3);
  EXPECT_EQ(ep[0x07], 0);
  EXPECT_EQ(ep[0x0a], 0);
  EXPECT_EQ(std::string(ep.begin() + 0x10, ep.begin() + 0x15), "_DMI_");
  EXPECT_EQ(byte_sum(ep.data() + 0x10, 0x0f), 0);  // intermediate checksum
  EXPECT_EQ(load<uint32_t>(ep, 0x18), kSmbiosTableAddr);

  const auto table = guest_table(mem);
  EXPECT_EQ(load<uint16_t>(ep, 0x16), table.size());
  const auto structures = parse_table(table);
  EXPECT_EQ(load<uint16_t>(ep, 0x1c), structures.size());
  std::size_t largest = 0;
  for (const auto& s : structures) largest = std::max(largest, s.total);
  EXPECT_EQ(load<uint16_t>(ep, 0x08), largest);
  EXPECT_EQ(ep[0x1e], 0x30);  // BCD revision
}

TEST(Smbios, Entry21RefusesMalformedTable) {
  EXPECT_THROW((void)build_smbios2_entry_point(0, std::vector<uint8_t>{1, 4, 0, 0, 'a'}), Error);
  EXPECT_THROW((void)build_smbios2_entry_point(0, std::vector<uint8_t>{1, 9, 0, 0, 0, 0}), Error);
  EXPECT_THROW((void)build_smbios2_entry_point(0, std::vector<uint8_t>(0x10000, 0)), Error);
}

TEST(Smbios, TableLengthAndStructureOrder) {
  const auto table = build_smbios_structures(full_info());
  const auto structures = parse_table(table);
  std::size_t total = 0;
  std::vector<int> types;
  std::set<uint16_t> handles;
  for (const auto& s : structures) {
    total += s.total;
    types.push_back(s.type);
    handles.insert(s.handle);
  }
  EXPECT_EQ(total, table.size());
  EXPECT_EQ(types, (std::vector<int>{0, 1, 3, 4, 16, 17, 32, 127}));
  EXPECT_EQ(handles.size(), structures.size()) << "handles must be unique";
  std::map<int, int> lengths{{0, 0x18},  {1, 0x1b},  {3, 0x16},  {4, 0x30},
                             {16, 0x17}, {17, 0x28}, {32, 0x0b}, {127, 4}};
  for (const auto& s : structures) EXPECT_EQ(s.length, lengths[s.type]) << int{s.type};

  // Processor and memory structures only when described.
  SmbiosInfo minimal;
  std::vector<int> minimal_types;
  for (const auto& s : parse_table(build_smbios_structures(minimal))) {
    minimal_types.push_back(s.type);
  }
  EXPECT_EQ(minimal_types, (std::vector<int>{0, 1, 3, 32, 127}));
}

// String fields per type (DSP0134 offsets): every reference within the set, every string in
// the set referred to, none empty.
TEST(Smbios, StringSetsAreWellFormed) {
  const std::map<int, std::vector<std::size_t>> string_fields{
      {0, {0x04, 0x05, 0x08}},
      {1, {0x04, 0x05, 0x06, 0x07, 0x19, 0x1a}},
      {3, {0x04, 0x06, 0x07, 0x08, 0x15}},
      {4, {0x04, 0x07, 0x10, 0x20, 0x21, 0x22}},
      {16, {}},
      {17, {0x10, 0x11, 0x17, 0x18, 0x19, 0x1a}},
      {32, {}},
      {127, {}},
  };
  SmbiosInfo sparse;  // empty strings must become string number 0
  sparse.serial = "";
  sparse.bios_date = "";
  sparse.cpu_count = 1;
  sparse.memory_bytes = 512 * kMiB;
  for (const auto& info : {full_info(), sparse, SmbiosInfo{}}) {
    const auto table = build_smbios_structures(info);
    for (const auto& s : parse_table(table)) {
      std::set<int> used;
      for (const std::size_t off : string_fields.at(s.type)) {
        const auto n = s.field<uint8_t>(off);
        EXPECT_LE(n, s.strings.size()) << "type " << int{s.type} << " offset " << off;
        if (n != 0) used.insert(n);
      }
      EXPECT_EQ(used.size(), s.strings.size()) << "unreferenced string in type " << int{s.type};
      for (const auto& str : s.strings) EXPECT_FALSE(str.empty()) << int{s.type};
    }
  }
  const auto sparse_table = parse_table(build_smbios_structures(sparse));
  EXPECT_EQ(find_type(sparse_table, 1)->field<uint8_t>(0x07), 0);  // serial
  EXPECT_EQ(find_type(sparse_table, 1)->field<uint8_t>(0x19), 0);  // SKU
  EXPECT_EQ(find_type(sparse_table, 0)->field<uint8_t>(0x08), 0);  // release date
  // A structure without strings ends in exactly two NULs.
  const auto* boot = find_type(sparse_table, kSmbiosTypeBootInfo);
  ASSERT_NE(boot, nullptr);
  EXPECT_EQ(boot->total, boot->length + 2u);
}

TEST(Smbios, SystemInformation) {
  const auto structures = parse_table(build_smbios_structures(full_info()));
  const auto* system = find_type(structures, kSmbiosTypeSystem);
  ASSERT_NE(system, nullptr);
  EXPECT_EQ(system->string_at(0x04), "Example Corp");
  EXPECT_EQ(system->string_at(0x05), "Example VM");
  EXPECT_EQ(system->string_at(0x06), "1.2.3");
  EXPECT_EQ(system->string_at(0x07), "SN-0042");
  EXPECT_EQ(system->field<uint8_t>(0x18), 0x06);  // woken by the power switch
  EXPECT_EQ(system->string_at(0x19), "EX-1");
  EXPECT_EQ(system->string_at(0x1a), "Virtual");
  const auto* chassis = find_type(structures, kSmbiosTypeChassis);
  ASSERT_NE(chassis, nullptr);
  EXPECT_EQ(chassis->string_at(0x04), "Example Corp");
  EXPECT_EQ(chassis->field<uint8_t>(0x05), 0x01);  // "Other"
  const auto* boot = find_type(structures, kSmbiosTypeBootInfo);
  ASSERT_NE(boot, nullptr);
  EXPECT_EQ(boot->field<uint8_t>(0x0a), 0);  // no errors
}

TEST(Smbios, SystemUuidByteOrder) {
  const auto structures = parse_table(build_smbios_structures(full_info()));
  const auto* system = find_type(structures, kSmbiosTypeSystem);
  ASSERT_NE(system, nullptr);
  const std::vector<uint8_t> uuid(system->area.begin() + 0x08, system->area.begin() + 0x18);
  // 12345678-9abc-def0-0123-456789abcdef: time_low, time_mid and time_hi_and_version
  // little-endian (SMBIOS 2.6+), the rest as written.
  EXPECT_EQ(uuid, (std::vector<uint8_t>{0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde, 0x01, 0x23,
                                        0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}));
}

TEST(Smbios, BiosInformation) {
  const auto structures = parse_table(build_smbios_structures(full_info()));
  const auto* bios = find_type(structures, kSmbiosTypeBios);
  ASSERT_NE(bios, nullptr);
  EXPECT_EQ(bios->string_at(0x04), "Example BIOS");
  EXPECT_EQ(bios->string_at(0x05), "4.7.1");
  EXPECT_EQ(bios->string_at(0x08), "03/14/2025");
  EXPECT_EQ(bios->field<uint64_t>(0x0a), 1u << 3);  // characteristics not supported
  EXPECT_EQ(bios->field<uint8_t>(0x12), 0x01);      // ACPI
  EXPECT_EQ(bios->field<uint8_t>(0x13), 0x10);      // a virtual machine
  EXPECT_EQ(bios->field<uint8_t>(0x14), 4);         // release 4.7
  EXPECT_EQ(bios->field<uint8_t>(0x15), 7);
  EXPECT_EQ(bios->field<uint8_t>(0x16), 0xff);  // no embedded controller
  EXPECT_EQ(bios->field<uint8_t>(0x17), 0xff);

  SmbiosInfo defaults;
  defaults.bios_version = "snapshot";
  const auto plain = parse_table(build_smbios_structures(defaults));
  const auto* plain_bios = find_type(plain, kSmbiosTypeBios);
  ASSERT_NE(plain_bios, nullptr);
  EXPECT_EQ(plain_bios->string_at(0x04), "vmm");
  EXPECT_EQ(plain_bios->field<uint8_t>(0x12), 0);     // no ACPI
  EXPECT_EQ(plain_bios->field<uint8_t>(0x13), 0x10);  // still a virtual machine
  EXPECT_EQ(plain_bios->field<uint8_t>(0x14), 0xff);  // no numeric release
  EXPECT_EQ(plain_bios->field<uint8_t>(0x15), 0xff);
  const auto* system = find_type(plain, kSmbiosTypeSystem);
  ASSERT_NE(system, nullptr);
  EXPECT_EQ(system->string_at(0x04), "vmm");
  EXPECT_EQ(system->string_at(0x05), "vmm");
  EXPECT_EQ(system->string_at(0x06), VMM_VERSION);
}

TEST(Smbios, ProcessorDescribesOnePackage) {
  const auto structures = parse_table(build_smbios_structures(full_info()));
  const auto* cpu = find_type(structures, kSmbiosTypeProcessor);
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->field<uint8_t>(0x05), 0x03);  // central processor
  EXPECT_EQ(cpu->string_at(0x07), "GenuineIntel");
  EXPECT_EQ(cpu->string_at(0x10), "Example CPU @ 2.00GHz");
  EXPECT_EQ(cpu->field<uint8_t>(0x18), 0x41);  // populated, enabled
  EXPECT_EQ(cpu->field<uint8_t>(0x23), 4);     // cores
  EXPECT_EQ(cpu->field<uint8_t>(0x24), 4);
  EXPECT_EQ(cpu->field<uint8_t>(0x25), 4);  // threads
  EXPECT_EQ(cpu->field<uint16_t>(0x2a), 4);
  EXPECT_EQ(cpu->field<uint16_t>(0x2e), 4);
  EXPECT_EQ(cpu->field<uint16_t>(0x26) & 0x0c, 0x0c);  // 64-bit, multi-core
}

TEST(Smbios, MemorySizes) {
  struct Case {
    uint64_t bytes;
    uint32_t array_kib;
    uint64_t array_extended;
    uint16_t size;
    uint32_t extended_mib;
  };
  for (const Case c :
       {Case{2 * kGiB, 2 * 1024 * 1024, 0, 2048, 0}, Case{512 * kKiB, 512, 0, 0x8000 | 512, 0},
        Case{32 * kGiB, 32 * 1024 * 1024, 0, 0x7fff, 32 * 1024},
        Case{4096 * kGiB, 0x80000000, 4096 * kGiB, 0x7fff, 4096 * 1024}}) {
    SmbiosInfo info;
    info.memory_bytes = c.bytes;
    const auto structures = parse_table(build_smbios_structures(info));
    const auto* array = find_type(structures, kSmbiosTypeMemoryArray);
    const auto* device = find_type(structures, kSmbiosTypeMemoryDevice);
    ASSERT_NE(array, nullptr);
    ASSERT_NE(device, nullptr);
    EXPECT_EQ(array->field<uint8_t>(0x05), 0x03) << "system memory";
    EXPECT_EQ(array->field<uint32_t>(0x07), c.array_kib) << c.bytes;
    EXPECT_EQ(array->field<uint64_t>(0x0f), c.array_extended) << c.bytes;
    EXPECT_EQ(array->field<uint16_t>(0x0d), 1);
    EXPECT_EQ(device->field<uint16_t>(0x04), array->handle);
    EXPECT_EQ(device->field<uint16_t>(0x0c), c.size) << c.bytes;
    EXPECT_EQ(device->field<uint32_t>(0x1c), c.extended_mib) << c.bytes;
    EXPECT_EQ(device->string_at(0x10), "DIMM 0");
  }
}

TEST(Smbios, RefusesNulInStrings) {
  SmbiosInfo info;
  info.serial = std::string("ab\0cd", 5);
  EXPECT_THROW((void)build_smbios_structures(info), ConfigError);
}

TEST(Smbios, RefusesTablesThatDoNotFit) {
  SmbiosInfo info;
  info.product = std::string(kSmbiosEnd - kSmbiosTableAddr, 'x');
  auto mem = GuestMemory::create_regions({{GuestAddress(0), 1 * kMiB}});
  EXPECT_THROW(write_smbios(mem, info), ConfigError);
  info.product = std::string(60000, 'x');  // still fits
  EXPECT_NO_THROW(write_smbios(mem, info));
}

TEST(Smbios, RefusesMemoryWithoutTheBiosArea) {
  auto mem = GuestMemory::create_regions({{GuestAddress(0), 512 * kKiB}});
  EXPECT_THROW(write_smbios(mem, SmbiosInfo{}), Error);
}

// --- dmidecode: a decoder written by others reads the tables as a guest's tools would. ---

std::string dmidecode_path() {
  for (const char* path : {"/usr/sbin/dmidecode", "/sbin/dmidecode", "/usr/bin/dmidecode"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

using test::run_command;

// dmidecode --dump-bin's layout, which --from-dump reads: the entry point at offset 0 with its
// table address rewritten to 32 (checksums kept valid), the table at offset 32.
std::vector<uint8_t> dump_image(const GuestMemory& mem, bool use_21_entry) {
  std::vector<uint8_t> image(32, 0);
  std::vector<uint8_t> table;
  if (use_21_entry) {
    auto ep = read_bytes(mem, kSmbios2EntryPointAddr, kSmbios2EntryPointSize);
    table = read_bytes(mem, load<uint32_t>(ep, 0x18), load<uint16_t>(ep, 0x16));
    store<uint32_t>(ep, 0x18, 32);
    ep[0x15] = 0;
    ep[0x15] = static_cast<uint8_t>(0x100 - byte_sum(ep.data() + 0x10, 0x0f));
    ep[0x04] = 0;
    ep[0x04] = static_cast<uint8_t>(0x100 - byte_sum(ep.data(), ep.size()));
    std::copy(ep.begin(), ep.end(), image.begin());
  } else {
    auto ep = read_bytes(mem, kSmbios3EntryPointAddr, kSmbios3EntryPointSize);
    table = read_bytes(mem, load<uint64_t>(ep, 0x10), load<uint32_t>(ep, 0x0c));
    store<uint64_t>(ep, 0x10, 32);
    ep[0x05] = 0;
    ep[0x05] = static_cast<uint8_t>(0x100 - byte_sum(ep.data(), ep.size()));
    std::copy(ep.begin(), ep.end(), image.begin());
  }
  image.insert(image.end(), table.begin(), table.end());
  return image;
}

// A missing decoder must fail the tests, not pass as a skipped check.
constexpr const char* kNoDmidecode =
    "dmidecode not found: install it (apt-get install dmidecode, or tests/install-deps.sh)";

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class SmbiosDmidecode : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dmidecode_ = dmidecode_path();
    ASSERT_FALSE(dmidecode_.empty()) << kNoDmidecode;
  }

  std::string keyword(const TempFile& dump, const std::string& key) const {
    const auto r =
        run_command(dmidecode_ + " --from-dump '" + dump.path().string() + "' -s " + key);
    EXPECT_EQ(r.status, 0) << r.output;
    std::string out = r.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  std::string dmidecode_;
};

TEST_P(SmbiosDmidecode, KeywordsReadTheConfiguredValues) {
  const auto mem = written(full_info());
  const TempFile dump(GetParam() ? "smbios21.bin" : "smbios3.bin", dump_image(mem, GetParam()));
  EXPECT_EQ(keyword(dump, "system-manufacturer"), "Example Corp");
  EXPECT_EQ(keyword(dump, "system-product-name"), "Example VM");
  EXPECT_EQ(keyword(dump, "system-version"), "1.2.3");
  EXPECT_EQ(keyword(dump, "system-serial-number"), "SN-0042");
  EXPECT_EQ(keyword(dump, "system-uuid"), "12345678-9abc-def0-0123-456789abcdef");
  EXPECT_EQ(keyword(dump, "system-sku-number"), "EX-1");
  EXPECT_EQ(keyword(dump, "system-family"), "Virtual");
  EXPECT_EQ(keyword(dump, "bios-vendor"), "Example BIOS");
  EXPECT_EQ(keyword(dump, "bios-version"), "4.7.1");
  EXPECT_EQ(keyword(dump, "bios-release-date"), "03/14/2025");
  EXPECT_EQ(keyword(dump, "chassis-manufacturer"), "Example Corp");
  EXPECT_EQ(keyword(dump, "processor-version"), "Example CPU @ 2.00GHz");
}

TEST_P(SmbiosDmidecode, RandomUuidReadsBack) {
  SmbiosInfo info;
  info.uuid = random_uuid();
  const auto mem = written(info);
  const TempFile dump("smbios-uuid.bin", dump_image(mem, GetParam()));
  EXPECT_EQ(keyword(dump, "system-uuid"), to_string(info.uuid));
  EXPECT_EQ(keyword(dump, "system-manufacturer"), "vmm");
  EXPECT_EQ(keyword(dump, "bios-vendor"), "vmm");
}

TEST_P(SmbiosDmidecode, FullDecodeIsClean) {
  const auto mem = written(full_info());
  const TempFile dump("smbios-full.bin", dump_image(mem, GetParam()));
  const auto r = run_command(dmidecode_ + " --from-dump '" + dump.path().string() + "'");
  EXPECT_EQ(r.status, 0) << r.output;
  // The 2.1 entry point has no docrev: dmidecode prints two version numbers for it.
  EXPECT_NE(r.output.find(GetParam() ? "SMBIOS 3.0 present." : "SMBIOS 3.0.0 present."),
            std::string::npos)
      << r.output;
  for (const char* complaint :
       {"OUT OF SPEC", "Invalid", "invalid", "Wrong", "wrong", "Bad", "checksum", "truncated",
        "Unknown Type", "<BAD INDEX>", "not fully supported"}) {
    EXPECT_EQ(r.output.find(complaint), std::string::npos) << complaint << "\n" << r.output;
  }
  EXPECT_NE(r.output.find("System is a virtual machine"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Size: 2 GB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Core Count: 4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("No errors detected"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("End Of Table"), std::string::npos) << r.output;
}

// dmidecode reading a guest memory image as it would /dev/mem: it scans the BIOS area for the
// anchors as a guest does, and its own --dump-bin writes what dump_image() builds.
TEST(Smbios, DmidecodeFindsTheTablesInGuestMemory) {
  const std::string dmidecode = dmidecode_path();
  ASSERT_FALSE(dmidecode.empty()) << kNoDmidecode;
  const auto mem = written(full_info());
  const TempFile image("smbios-mem.img", read_bytes(mem, 0, kSmbiosEnd));
  const std::string from_image = dmidecode + " --no-sysfs -d '" + image.path().string() + "'";

  const auto decoded = run_command(from_image);
  EXPECT_EQ(decoded.status, 0) << decoded.output;
  EXPECT_NE(decoded.output.find("SMBIOS 3.0.0 present."), std::string::npos) << decoded.output;
  EXPECT_NE(decoded.output.find("Table at 0x000F0040."), std::string::npos) << decoded.output;
  EXPECT_EQ(run_command(from_image + " -s system-uuid").output,
            "12345678-9abc-def0-0123-456789abcdef\n");

  const std::string dump_path = image.path().string() + ".dump";
  std::filesystem::remove(dump_path);
  const auto dumped = run_command(from_image + " --dump-bin '" + dump_path + "'");
  EXPECT_EQ(dumped.status, 0) << dumped.output;
  EXPECT_EQ(read_file(dump_path), dump_image(mem, false));
  std::filesystem::remove(dump_path);
}

// Parameter: read through the 2.1 entry point rather than the 3.0 one.
INSTANTIATE_TEST_SUITE_P(Smbios, SmbiosDmidecode, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Entry21" : "Entry3"; });

}  // namespace
}  // namespace vmm::x86_64
