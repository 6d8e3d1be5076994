#include "arch/x86_64/mptable.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

// An independent reader of the guest-visible bytes, following MP spec 1.4 (and Linux's scan).
struct ParsedMpTable {
  uint64_t pointer_addr = 0;
  uint32_t table_addr = 0;
  uint16_t table_length = 0;
  uint16_t entry_count = 0;
  uint32_t lapic_addr = 0;
  std::string oem;
  std::array<std::size_t, 5> per_type{};

  struct Processor {
    uint8_t apic_id, version, flags;
  };
  struct Bus {
    uint8_t id;
    std::string type;
  };
  struct Ioapic {
    uint8_t id, version, flags;
    uint32_t addr;
  };
  struct Interrupt {
    uint8_t entry_type, int_type;
    uint16_t flags;
    uint8_t bus, bus_irq, dest_id, dest_pin;
  };
  std::vector<Processor> processors;
  std::vector<Bus> buses;
  std::vector<Ioapic> ioapics;
  std::vector<Interrupt> interrupts;  // I/O and local, in table order
};

uint8_t byte_sum(std::span<const uint8_t> bytes) {
  return static_cast<uint8_t>(
      std::accumulate(bytes.begin(), bytes.end(), 0U, [](unsigned a, uint8_t b) { return a + b; }));
}

template <typename T>
T load(const std::vector<uint8_t>& bytes, std::size_t off) {
  T v{};
  EXPECT_LE(off + sizeof(T), bytes.size());
  if (off + sizeof(T) <= bytes.size()) std::memcpy(&v, bytes.data() + off, sizeof(T));
  return v;
}

std::vector<uint8_t> read_bytes(const GuestMemory& mem, uint64_t addr, std::size_t len) {
  std::vector<uint8_t> out(len);
  EXPECT_TRUE(mem.read(GuestAddress(addr), out));
  return out;
}

std::optional<ParsedMpTable> parse(const GuestMemory& mem) {
  ParsedMpTable t;
  // Linux scans the top KiB below 640 KiB on 16-byte boundaries.
  for (uint64_t a = 639 * 1024; a < 640 * 1024; a += 16) {
    auto sig = read_bytes(mem, a, 4);
    if (std::memcmp(sig.data(), "_MP_", 4) == 0) {
      t.pointer_addr = a;
      break;
    }
  }
  if (t.pointer_addr == 0) {
    ADD_FAILURE() << "no _MP_ floating pointer in the last KiB of base memory";
    return std::nullopt;
  }
  const auto fp = read_bytes(mem, t.pointer_addr, 16);
  EXPECT_EQ(byte_sum(fp), 0) << "floating pointer checksum";
  EXPECT_EQ(fp[8], 1) << "length in paragraphs";
  EXPECT_EQ(fp[9], 4) << "spec revision";
  EXPECT_EQ(fp[11], 0) << "no default configuration";
  EXPECT_EQ(fp[12] & 0x80, 0) << "virtual wire mode";
  t.table_addr = load<uint32_t>(fp, 4);

  const auto header = read_bytes(mem, t.table_addr, 44);
  if (std::memcmp(header.data(), "PCMP", 4) != 0) {
    ADD_FAILURE() << "no PCMP signature";
    return std::nullopt;
  }
  t.table_length = load<uint16_t>(header, 4);
  EXPECT_EQ(header[6], 4) << "spec revision";
  t.oem.assign(header.begin() + 8, header.begin() + 16);
  t.entry_count = load<uint16_t>(header, 34);
  t.lapic_addr = load<uint32_t>(header, 36);
  EXPECT_EQ(load<uint16_t>(header, 40), 0) << "no extended table";

  const auto table = read_bytes(mem, t.table_addr, t.table_length);
  EXPECT_EQ(byte_sum(table), 0) << "configuration table checksum";

  std::size_t off = 44;
  uint8_t last_type = 0;
  for (uint16_t i = 0; i < t.entry_count; ++i) {
    if (off >= table.size()) {
      ADD_FAILURE() << "entry " << i << " beyond the table length";
      return std::nullopt;
    }
    const uint8_t type = table[off];
    EXPECT_GE(type, last_type) << "entries must be sorted by type";
    last_type = type;
    if (type >= t.per_type.size()) {
      ADD_FAILURE() << "unknown entry type " << int{type};
      return std::nullopt;
    }
    ++t.per_type[type];
    switch (type) {
      case 0:
        t.processors.push_back({table[off + 1], table[off + 2], table[off + 3]});
        off += 20;
        break;
      case 1:
        t.buses.push_back(
            {table[off + 1], std::string(table.begin() + static_cast<long>(off) + 2,
                                         table.begin() + static_cast<long>(off) + 8)});
        off += 8;
        break;
      case 2:
        t.ioapics.push_back(
            {table[off + 1], table[off + 2], table[off + 3], load<uint32_t>(table, off + 4)});
        off += 8;
        break;
      default:
        t.interrupts.push_back({type, table[off + 1], load<uint16_t>(table, off + 2),
                                table[off + 4], table[off + 5], table[off + 6], table[off + 7]});
        off += 8;
        break;
    }
  }
  EXPECT_EQ(off, t.table_length) << "length covers exactly the entries";
  return t;
}

GuestMemory low_memory() { return GuestMemory::create(2 * kMiB, kMmioHoleStart, kMmioHoleEnd); }

class MpTableCpus : public ::testing::TestWithParam<uint32_t> {};

TEST_P(MpTableCpus, ParsesBack) {
  const uint32_t cpus = GetParam();
  auto mem = low_memory();
  write_mptable(mem, cpus);
  const auto t = parse(mem);
  ASSERT_TRUE(t.has_value());

  EXPECT_EQ(t->pointer_addr, kMpFloatingPointerAddr);
  EXPECT_EQ(t->table_addr, kEbdaStart);
  EXPECT_EQ(t->lapic_addr, kLapicAddr);
  EXPECT_EQ(t->oem, "VMM     ");
  // Table and pointer stay inside [kEbdaStart, kBiosStart) and do not overlap.
  EXPECT_LE(t->table_addr + t->table_length, t->pointer_addr);
  EXPECT_LE(t->pointer_addr + 16, kBiosStart);

  EXPECT_EQ(t->entry_count, cpus + 2 + 1 + 16 + 2);
  EXPECT_EQ(t->per_type[0], cpus);
  EXPECT_EQ(t->per_type[1], 2u);
  EXPECT_EQ(t->per_type[2], 1u);
  EXPECT_EQ(t->per_type[3], 16u);
  EXPECT_EQ(t->per_type[4], 2u);

  for (uint32_t i = 0; i < cpus; ++i) {
    const auto& p = t->processors[i];
    EXPECT_EQ(p.apic_id, i);
    EXPECT_EQ(p.version, 0x14);
    EXPECT_EQ(p.flags & 1, 1) << "enabled";
    EXPECT_EQ((p.flags & 2) != 0, i == 0) << "BSP flag on cpu 0 only";
  }

  ASSERT_EQ(t->buses.size(), 2u);
  EXPECT_EQ(t->buses[0].id, 0);
  EXPECT_EQ(t->buses[0].type, "PCI   ");
  EXPECT_EQ(t->buses[1].id, 1);
  EXPECT_EQ(t->buses[1].type, "ISA   ");

  ASSERT_EQ(t->ioapics.size(), 1u);
  EXPECT_EQ(t->ioapics[0].id, cpus);
  EXPECT_EQ(t->ioapics[0].version, 0x11);
  EXPECT_EQ(t->ioapics[0].flags & 1, 1);
  EXPECT_EQ(t->ioapics[0].addr, kIoapicAddr);

  ASSERT_EQ(t->interrupts.size(), 18u);
  for (uint8_t irq = 0; irq < 16; ++irq) {
    const auto& e = t->interrupts[irq];
    EXPECT_EQ(e.entry_type, 3);
    EXPECT_EQ(e.int_type, 0);
    EXPECT_EQ(e.bus, 1) << "ISA bus";
    EXPECT_EQ(e.bus_irq, irq);
    EXPECT_EQ(e.dest_id, cpus);
    EXPECT_EQ(e.dest_pin, irq) << "identity routing, like KVM's default GSI routes";
  }
  const auto& extint = t->interrupts[16];
  EXPECT_EQ(extint.entry_type, 4);
  EXPECT_EQ(extint.int_type, 3);
  EXPECT_EQ(extint.dest_pin, 0) << "LINT0";
  const auto& nmi = t->interrupts[17];
  EXPECT_EQ(nmi.entry_type, 4);
  EXPECT_EQ(nmi.int_type, 1);
  EXPECT_EQ(nmi.dest_id, 0xff) << "all local APICs";
  EXPECT_EQ(nmi.dest_pin, 1) << "LINT1";
}

INSTANTIATE_TEST_SUITE_P(Counts, MpTableCpus, ::testing::Values(1U, 4U, 64U));

TEST(MpTable, LargestCountFitsNextIsRefused) {
  const uint32_t max = mptable_max_cpus();
  EXPECT_GE(max, 64u);
  EXPECT_LE(mp_config_table_size(max, 0), kMpFloatingPointerAddr - kEbdaStart);
  EXPECT_GT(mp_config_table_size(max + 1, 0), kMpFloatingPointerAddr - kEbdaStart);

  auto mem = low_memory();
  write_mptable(mem, max);
  const auto t = parse(mem);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->processors.size(), max);
  EXPECT_THROW(write_mptable(mem, max + 1), vmm::ConfigError);
  EXPECT_THROW(write_mptable(mem, 1000), vmm::ConfigError);
  EXPECT_THROW(write_mptable(mem, 0), vmm::ConfigError);
}

TEST(MpTable, RefusedCountLeavesMemoryUntouched) {
  auto mem = low_memory();
  ASSERT_TRUE(mem.fill(GuestAddress(kEbdaStart), kBiosStart - kEbdaStart, 0xcc));
  EXPECT_THROW(write_mptable(mem, mptable_max_cpus() + 1), vmm::ConfigError);
  EXPECT_EQ(mem.read_obj<uint32_t>(GuestAddress(kEbdaStart)), 0xccccccccu);
  EXPECT_EQ(mem.read_obj<uint32_t>(GuestAddress(kMpFloatingPointerAddr)), 0xccccccccu);
}

TEST(MpTable, PciInterruptRoutes) {
  const std::array<MpPciInterrupt, 2> routes{{{3, 0, 16}, {31, 3, 23}}};
  EXPECT_LT(mptable_max_cpus(routes.size()), mptable_max_cpus());

  auto mem = low_memory();
  write_mptable(mem, 2, routes);
  const auto t = parse(mem);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->per_type[3], 18u);
  const auto& a = t->interrupts[16];
  EXPECT_EQ(a.bus, 0) << "PCI bus";
  EXPECT_EQ(a.bus_irq, (3 << 2) | 0);
  EXPECT_EQ(a.dest_id, 2);
  EXPECT_EQ(a.dest_pin, 16);
  const auto& b = t->interrupts[17];
  EXPECT_EQ(b.bus_irq, (31 << 2) | 3);
  EXPECT_EQ(b.dest_pin, 23);
  EXPECT_EQ(t->interrupts[18].entry_type, 4);
}

TEST(MpTable, InvalidPciRouteRefused) {
  auto mem = low_memory();
  for (const MpPciInterrupt bad :
       {MpPciInterrupt{32, 0, 16}, MpPciInterrupt{1, 4, 16}, MpPciInterrupt{1, 0, kIoapicPins}}) {
    const std::array<MpPciInterrupt, 1> routes{bad};
    EXPECT_THROW(write_mptable(mem, 1, routes), vmm::Error);
  }
}

TEST(MpTable, WithoutLowRamThrows) {
  auto mem = GuestMemory::create_regions({{GuestAddress(0), 512 * kKiB}});
  EXPECT_THROW(write_mptable(mem, 1), vmm::Error);
}

}  // namespace
}  // namespace vmm::x86_64
