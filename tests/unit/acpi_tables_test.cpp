#include "arch/x86_64/acpi_tables.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "support/run_command.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

namespace fs = std::filesystem;

// The platform the device manager describes for a typical VM.
AcpiPlatform representative_platform(uint32_t cpu_count = 4) {
  AcpiPlatform p;
  p.cpu_count = cpu_count;
  p.lapic_addr = kLapicAddr;
  p.ioapic_id = static_cast<uint8_t>(cpu_count);
  p.ioapic_addr = kIoapicAddr;
  p.isa_overrides = {{0, 2}};
  p.isa_devices = {
      {"COM1", "PNP0501", 1, {{0x3f8, 8}}, 4},
      {"KBD_", "PNP0303", 0, {{0x60, 1}, {0x64, 1}}, 1},
      {"RTC_", "PNP0B00", 0, {{0x70, 2}}, 8},
      {"PEVT", "QEMU0001", 0, {{0x505, 1}}, std::nullopt},
  };
  p.virtio_mmio = {{0xd0000000, 0x1000, 5}, {0xd0001000, 0x1000, 6}};
  AcpiPciHost pci;
  pci.mmio_base = kPciMmioStart;
  pci.mmio_size = kPciMmioEnd - kPciMmioStart;
  pci.io_windows = {{0x0000, 0x0cf8}, {0x0d00, 0xf300}};
  for (uint8_t slot = 1; slot <= 4; ++slot) {
    for (uint8_t pin = 0; pin < 4; ++pin) {
      pci.routes.push_back({slot, pin, kPciIntxFirstPin + (slot - 1U + pin) % 8});
    }
  }
  p.pci = pci;
  p.pm = {0x600, 0x601, 0x602, 1};
  p.power_button_gsi = 13;
  return p;
}

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

std::string text(const std::vector<uint8_t>& bytes, std::size_t off, std::size_t len) {
  return {bytes.begin() + static_cast<std::ptrdiff_t>(off),
          bytes.begin() + static_cast<std::ptrdiff_t>(off + len)};
}

void expect_header(const std::vector<uint8_t>& table, const char* signature) {
  SCOPED_TRACE(signature);
  ASSERT_GE(table.size(), 36U);
  EXPECT_EQ(text(table, 0, 4), signature);
  EXPECT_EQ(load<uint32_t>(table, 4), table.size());
  EXPECT_EQ(byte_sum(table), 0);
  EXPECT_EQ(text(table, 10, 6), kAcpiOemId);
  EXPECT_EQ(text(table, 16, 8), kAcpiOemTableId);
  EXPECT_EQ(load<uint32_t>(table, 24), kAcpiOemRevision);
  EXPECT_EQ(text(table, 28, 4), kAcpiCreatorId);
  EXPECT_EQ(load<uint32_t>(table, 32), kAcpiCreatorRevision);
}

TEST(AcpiTables, EveryTableHasAValidHeader) {
  const auto t = build_acpi_tables(representative_platform(), kAcpiRsdpAddr);
  expect_header(t.xsdt, "XSDT");
  expect_header(t.fadt, "FACP");
  expect_header(t.madt, "APIC");
  expect_header(t.dsdt, "DSDT");
  EXPECT_EQ(t.fadt.at(8), 6);  // FADT revision
  EXPECT_EQ(t.dsdt.at(8), 2);  // 64-bit AML integers
}

TEST(AcpiTables, RsdpHasBothChecksumsAndPointsAtTheXsdt) {
  const auto t = build_acpi_tables(representative_platform(), kAcpiRsdpAddr);
  ASSERT_EQ(t.rsdp.size(), 36U);
  EXPECT_EQ(text(t.rsdp, 0, 8), "RSD PTR ");
  EXPECT_EQ(byte_sum(std::span(t.rsdp).first(20)), 0);
  EXPECT_EQ(byte_sum(t.rsdp), 0);
  EXPECT_EQ(text(t.rsdp, 9, 6), kAcpiOemId);
  EXPECT_EQ(t.rsdp.at(15), 2);                 // revision
  EXPECT_EQ(load<uint32_t>(t.rsdp, 16), 0U);   // no RSDT
  EXPECT_EQ(load<uint32_t>(t.rsdp, 20), 36U);  // length
  EXPECT_EQ(load<uint64_t>(t.rsdp, 24), t.xsdt_addr);
}

TEST(AcpiTables, LayoutIsOrderedAlignedAndPacked) {
  const auto t = build_acpi_tables(representative_platform(), kAcpiRsdpAddr);
  EXPECT_EQ(t.rsdp_addr, kAcpiRsdpAddr);
  const std::array<std::pair<uint64_t, std::size_t>, 5> order{{{t.rsdp_addr, t.rsdp.size()},
                                                               {t.xsdt_addr, t.xsdt.size()},
                                                               {t.fadt_addr, t.fadt.size()},
                                                               {t.madt_addr, t.madt.size()},
                                                               {t.dsdt_addr, t.dsdt.size()}}};
  for (std::size_t i = 1; i < order.size(); ++i) {
    const uint64_t prev_end = order[i - 1].first + order[i - 1].second;
    EXPECT_EQ(order[i].first % 8, 0U) << i;
    EXPECT_GE(order[i].first, prev_end) << i;
    EXPECT_LT(order[i].first - prev_end, 8U) << i;
  }
  EXPECT_EQ(t.end(), t.dsdt_addr + t.dsdt.size());
  // The XSDT lists the FADT and the MADT; the DSDT is reached through the FADT.
  ASSERT_EQ(t.xsdt.size(), 36U + 2 * 8);
  EXPECT_EQ(load<uint64_t>(t.xsdt, 36), t.fadt_addr);
  EXPECT_EQ(load<uint64_t>(t.xsdt, 44), t.madt_addr);

  // Another base moves every pointer with it.
  const auto moved = build_acpi_tables(representative_platform(), 0x100000);
  EXPECT_EQ(moved.xsdt_addr - moved.rsdp_addr, t.xsdt_addr - t.rsdp_addr);
  EXPECT_EQ(moved.dsdt_addr - moved.rsdp_addr, t.dsdt_addr - t.rsdp_addr);
  EXPECT_EQ(load<uint64_t>(moved.fadt, 140), moved.dsdt_addr);
}

TEST(AcpiTables, FadtIsHardwareReducedAndPointsAtTheDsdt) {
  const auto t = build_acpi_tables(representative_platform(), kAcpiRsdpAddr);
  const auto& f = t.fadt;
  ASSERT_EQ(f.size(), 276U);
  EXPECT_EQ(load<uint32_t>(f, 40), t.dsdt_addr);   // DSDT
  EXPECT_EQ(load<uint64_t>(f, 140), t.dsdt_addr);  // X_DSDT
  EXPECT_EQ(load<uint32_t>(f, 36), 0U);            // no FACS
  EXPECT_EQ(load<uint16_t>(f, 46), 0U);            // SCI_INT
  for (std::size_t off = 56; off < 88; off += 4) EXPECT_EQ(load<uint32_t>(f, off), 0U) << off;
  const auto flags = load<uint32_t>(f, 112);
  EXPECT_NE(flags & (1U << 20), 0U) << "HW_REDUCED_ACPI";
  EXPECT_NE(flags & (1U << 10), 0U) << "RESET_REG_SUP";
  EXPECT_NE(flags & (1U << 4), 0U) << "PWR_BUTTON (no fixed power button)";
  const auto boot_arch = load<uint16_t>(f, 109);
  EXPECT_NE(boot_arch & (1U << 1), 0U) << "8042";
  EXPECT_NE(boot_arch & (1U << 2), 0U) << "VGA not present";
  EXPECT_EQ(boot_arch & (1U << 3), 0U) << "MSI not supported";
  EXPECT_EQ(f.at(131), 4);  // minor version

  // Generic Address Structures: SystemIO, 8 bits, offset 0, byte access.
  const auto expect_io_gas = [&](std::size_t off, uint16_t port) {
    EXPECT_EQ(f.at(off), 1) << off;
    EXPECT_EQ(f.at(off + 1), 8) << off;
    EXPECT_EQ(f.at(off + 2), 0) << off;
    EXPECT_EQ(f.at(off + 3), 1) << off;
    EXPECT_EQ(load<uint64_t>(f, off + 4), port) << off;
  };
  expect_io_gas(116, 0x602);  // RESET_REG
  EXPECT_EQ(f.at(128), 1);    // RESET_VALUE
  expect_io_gas(244, 0x600);  // SLEEP_CONTROL_REG
  expect_io_gas(256, 0x601);  // SLEEP_STATUS_REG
  for (std::size_t off = 148; off < 244; ++off) EXPECT_EQ(f.at(off), 0) << off;  // X_ PM blocks
}

struct ParsedMadt {
  uint32_t lapic_addr = 0, flags = 0;
  struct LocalApic {
    uint8_t uid, apic_id;
    uint32_t flags;
  };
  struct Override {
    uint8_t bus, source;
    uint32_t gsi;
    uint16_t flags;
  };
  std::vector<LocalApic> lapics;
  std::vector<std::array<uint32_t, 3>> ioapics;  // id, address, GSI base
  std::vector<Override> overrides;
  std::vector<std::array<uint32_t, 3>> nmis;  // UID, flags, LINT
  std::size_t other = 0;
};

ParsedMadt parse_madt(const std::vector<uint8_t>& m) {
  ParsedMadt out;
  out.lapic_addr = load<uint32_t>(m, 36);
  out.flags = load<uint32_t>(m, 40);
  std::size_t off = 44;
  while (off + 2 <= m.size()) {
    const uint8_t type = m[off];
    const uint8_t len = m[off + 1];
    if (len < 2 || off + len > m.size()) {
      ADD_FAILURE() << "bad MADT entry length " << int{len} << " at " << off;
      break;
    }
    switch (type) {
      case 0:
        EXPECT_EQ(len, 8);
        out.lapics.push_back({m[off + 2], m[off + 3], load<uint32_t>(m, off + 4)});
        break;
      case 1:
        EXPECT_EQ(len, 12);
        EXPECT_EQ(m[off + 3], 0);  // reserved
        out.ioapics.push_back({m[off + 2], load<uint32_t>(m, off + 4), load<uint32_t>(m, off + 8)});
        break;
      case 2:
        EXPECT_EQ(len, 10);
        out.overrides.push_back(
            {m[off + 2], m[off + 3], load<uint32_t>(m, off + 4), load<uint16_t>(m, off + 8)});
        break;
      case 4:
        EXPECT_EQ(len, 6);
        out.nmis.push_back({m[off + 2], load<uint16_t>(m, off + 3), m[off + 5]});
        break;
      default:
        ++out.other;
    }
    off += len;
  }
  EXPECT_EQ(off, m.size()) << "entries do not end at the table's end";
  return out;
}

class AcpiMadtCpus : public ::testing::TestWithParam<uint32_t> {};

TEST_P(AcpiMadtCpus, OneLocalApicPerCpuAndTheIoapic) {
  const uint32_t cpus = GetParam();
  const auto t = build_acpi_tables(representative_platform(cpus), kAcpiRsdpAddr);
  expect_header(t.madt, "APIC");
  const ParsedMadt m = parse_madt(t.madt);
  EXPECT_EQ(m.lapic_addr, kLapicAddr);
  EXPECT_EQ(m.flags, 1U);  // PCAT_COMPAT
  ASSERT_EQ(m.lapics.size(), cpus);
  for (uint32_t i = 0; i < cpus; ++i) {
    EXPECT_EQ(m.lapics[i].uid, i);
    EXPECT_EQ(m.lapics[i].apic_id, i);
    EXPECT_EQ(m.lapics[i].flags, 1U);  // enabled
  }
  ASSERT_EQ(m.ioapics.size(), 1U);
  EXPECT_EQ(m.ioapics[0], (std::array<uint32_t, 3>{cpus, kIoapicAddr, 0}));
  ASSERT_EQ(m.overrides.size(), 1U);
  EXPECT_EQ(m.overrides[0].bus, 0);
  EXPECT_EQ(m.overrides[0].source, 0);
  EXPECT_EQ(m.overrides[0].gsi, 2U);
  EXPECT_EQ(m.overrides[0].flags, 0);
  ASSERT_EQ(m.nmis.size(), 1U);
  EXPECT_EQ(m.nmis[0], (std::array<uint32_t, 3>{0xff, 0, 1}));
  EXPECT_EQ(m.other, 0U);
}

INSTANTIATE_TEST_SUITE_P(AcpiCpuCounts, AcpiMadtCpus, ::testing::Values(1U, 4U, 64U, 254U));

TEST(AcpiTables, InvalidPlatformsAreRefused) {
  const auto refused = [](const AcpiPlatform& p) {
    EXPECT_THROW((void)build_acpi_tables(p, kAcpiRsdpAddr), Error);
  };
  auto p = representative_platform();
  p.cpu_count = 0;
  refused(p);
  p.cpu_count = 255;
  refused(p);
  for (const char* bad_name : {"COM", "COM10", "com1", "1COM"}) {
    p = representative_platform();
    p.isa_devices[0].name = bad_name;
    refused(p);
  }
  p = representative_platform();
  p.isa_devices[0].irq = 16;
  refused(p);
  p = representative_platform();
  p.isa_devices[0].io = {{0xfff0, 0x20}};
  refused(p);
  p = representative_platform();
  p.virtio_mmio[0].base = 0x100000000;
  refused(p);
  p = representative_platform();
  p.pci->routes.push_back({32, 0, 16});
  refused(p);
  p = representative_platform();
  p.pci->routes.push_back({1, 4, 16});
  refused(p);
  EXPECT_THROW((void)build_acpi_tables(representative_platform(), kAcpiRsdpAddr + 8), Error);
}

TEST(AcpiTables, WritesEveryTableIntoGuestMemory) {
  const auto mem = GuestMemory::create(2 * kMiB, kMmioHoleStart, kMmioHoleEnd);
  ASSERT_TRUE(mem.fill(GuestAddress(kAcpiRsdpAddr), kAcpiTablesEnd - kAcpiRsdpAddr, 0xcc));
  const auto platform = representative_platform();
  EXPECT_EQ(write_acpi_tables(mem, platform), GuestAddress(kAcpiRsdpAddr));
  const auto t = build_acpi_tables(platform, kAcpiRsdpAddr);
  EXPECT_LE(t.end(), kAcpiTablesEnd);
  for (const auto& [addr, bytes] :
       {std::pair{t.rsdp_addr, &t.rsdp}, std::pair{t.xsdt_addr, &t.xsdt},
        std::pair{t.fadt_addr, &t.fadt}, std::pair{t.madt_addr, &t.madt},
        std::pair{t.dsdt_addr, &t.dsdt}}) {
    std::vector<uint8_t> back(bytes->size());
    ASSERT_TRUE(mem.read(GuestAddress(addr), back));
    EXPECT_EQ(back, *bytes) << std::hex << addr;
  }
  // Nothing stale is left in the area, and a guest's RSDP scan (16-byte steps through the
  // BIOS area) finds the pointer first at its address.
  std::vector<uint8_t> area(kAcpiTablesEnd - t.end());
  ASSERT_TRUE(mem.read(GuestAddress(t.end()), area));
  EXPECT_EQ(std::count(area.begin(), area.end(), 0), static_cast<std::ptrdiff_t>(area.size()));
  for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
    std::array<uint8_t, 8> sig{};
    ASSERT_TRUE(mem.read(GuestAddress(a), sig));
    if (std::memcmp(sig.data(), "RSD PTR ", 8) == 0) {
      EXPECT_EQ(a, kAcpiRsdpAddr);
      break;
    }
  }
}

TEST(AcpiTables, WriteRefusesTablesThatDoNotFitOrMissingRam) {
  const auto no_bios_area = GuestMemory::create_regions({{GuestAddress(0), 512 * kKiB}});
  EXPECT_THROW((void)write_acpi_tables(no_bios_area, representative_platform()), Error);

  // Enough devices to push the DSDT past the 64 KiB reserved for the tables.
  auto p = representative_platform();
  for (uint32_t i = 0; i < 1500; ++i) {
    char name[8];
    std::snprintf(name, sizeof(name), "D%03X", i);
    p.isa_devices.push_back({name, "VMM00001", i, {{0x1000, 8}}, 3});
  }
  ASSERT_GT(build_acpi_tables(p, kAcpiRsdpAddr).end(), kAcpiTablesEnd);
  const auto mem = GuestMemory::create(2 * kMiB, kMmioHoleStart, kMmioHoleEnd);
  EXPECT_THROW((void)write_acpi_tables(mem, p), Error);
}

// --- Decoding with ACPICA's disassembler ---

using test::run_command;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AcpiIasl : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto found = run_command("command -v iasl");
    ASSERT_EQ(found.status, 0)
        << "iasl (ACPICA's ASL compiler/disassembler) is not installed; install acpica-tools "
           "(tests/install-deps.sh)";
    std::string tmpl = (fs::temp_directory_path() / "vmm-acpi-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Disassembles `table` with `iasl -d` and returns the .dsl text; iasl must succeed and say
  // nothing about errors or warnings.
  std::string disassemble(const std::vector<uint8_t>& table, const std::string& base) {
    const fs::path dat = dir_ / (base + ".dat");
    {
      std::ofstream out(dat, std::ios::binary);
      out.write(reinterpret_cast<const char*>(table.data()),
                static_cast<std::streamsize>(table.size()));
    }
    const auto r = run_command("cd '" + dir_.string() + "' && iasl -d " + base + ".dat");
    EXPECT_EQ(r.status, 0) << r.output;
    for (const char* bad : {"Error", "Warning", "Invalid", "Could not"}) {
      EXPECT_EQ(r.output.find(bad), std::string::npos) << base << ": " << bad << "\n" << r.output;
    }
    const fs::path dsl = dir_ / (base + ".dsl");
    EXPECT_TRUE(fs::exists(dsl)) << r.output;
    return read_text(dsl);
  }

  fs::path dir_;
};

TEST_F(AcpiIasl, DsdtDisassemblesAndRecompilesCleanly) {
  const auto t = build_acpi_tables(representative_platform(), kAcpiRsdpAddr);
  const std::string dsl = disassemble(t.dsdt, "dsdt");
  for (const char* want : {"DefinitionBlock",
                           "_S5_",
                           "PNP0C0C",
                           "ACPI0013",
                           "PNP0A08",
                           "PNP0A03",
                           "COM1",
                           "PNP0501",
                           "PNP0303",
                           "PNP0B00",
                           "QEMU0001",
                           "LNRO0005",
                           "VR00",
                           "VR01",
                           "PWRB",
                           "GED0",
                           "_EVT",
                           "Notify (\\_SB.PWRB, 0x80)",
                           "_PRT",
                           "WordBusNumber",
                           "WordIO",
                           "DWordMemory",
                           "Memory32Fixed (ReadWrite",
                           "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive",
                           "IRQNoFlags",
                           "0x03F8",
                           "0xD0001000",
                           "0x0000000D"}) {
    EXPECT_NE(dsl.find(want), std::string::npos) << want << "\n" << dsl;
  }
  // Compiling the disassembly back runs ACPICA's semantic checks (predefined names, resource
  // descriptors); it must report no errors and no warnings.
  const auto r = run_command("cd '" + dir_.string() + "' && iasl -p recompiled dsdt.dsl");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 Errors, 0 Warnings"), std::string::npos) << r.output << "\n" << dsl;
}

TEST_F(AcpiIasl, FadtAndMadtDisassembleCleanly) {
  const auto t = build_acpi_tables(representative_platform(4), kAcpiRsdpAddr);
  const std::string fadt = disassemble(t.fadt, "facp");
  for (const char* want :
       {"Hardware Reduced (V5) : 1", "Reset Register Supported (V2) : 1",
        "Control Method Power Button (V1) : 1", "8042 Present on ports 60/64 (V2) : 1",
        "VGA Not Present (V4) : 1", "Value to cause reset : 01", "Address : 0000000000000602",
        "Address : 0000000000000600", "Address : 0000000000000601"}) {
    EXPECT_NE(fadt.find(want), std::string::npos) << want << "\n" << fadt;
  }
  const std::string madt = disassemble(t.madt, "apic");
  for (const char* want :
       {"Local Apic Address : FEE00000", "I/O Apic ID : 04", "Address : FEC00000",
        "Interrupt : 00000002", "Interrupt Input LINT : 01", "Local Apic ID : 03"}) {
    EXPECT_NE(madt.find(want), std::string::npos) << want << "\n" << madt;
  }
}

}  // namespace
}  // namespace vmm::x86_64
