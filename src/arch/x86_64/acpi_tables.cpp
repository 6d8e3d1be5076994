#include "arch/x86_64/acpi_tables.hpp"

#include <array>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "arch/x86_64/aml.hpp"
#include "arch/x86_64/byte_writer.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {

namespace {

static_assert(kAcpiRsdpAddr % 16 == 0, "guests scan for the RSDP on 16-byte boundaries");
static_assert(kAcpiRsdpAddr >= kBiosStart && kAcpiTablesEnd <= kSmbiosAddr);

// Table header (ACPI 6.x, 5.2.6).
constexpr std::size_t kLengthOffset = 4;
constexpr std::size_t kChecksumOffset = 9;
constexpr std::size_t kTableAlignment = 8;
constexpr uint64_t kMax32 = std::numeric_limits<uint32_t>::max();

// RSDP (5.2.5.3).
constexpr uint8_t kRsdpRevision = 2;
constexpr std::size_t kRsdpSize = 36;
constexpr std::size_t kRsdpV1Size = 20;  // what the first checksum covers
constexpr std::size_t kRsdpChecksumOffset = 8;
constexpr std::size_t kRsdpExtChecksumOffset = 32;

constexpr uint8_t kXsdtRevision = 1;
constexpr std::size_t kHeaderSize = 36;
constexpr std::size_t kXsdtEntries = 2;  // FADT, MADT

// FADT (5.2.9): ACPI 6.4 layout.
constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorRevision = 4;
constexpr std::size_t kFadtSize = 276;
constexpr uint32_t kFadtPwrButton = 1U << 4;  // no fixed power button (it is a device)
constexpr uint32_t kFadtSlpButton = 1U << 5;  // no fixed sleep button
constexpr uint32_t kFadtResetRegSup = 1U << 10;
constexpr uint32_t kFadtHwReducedAcpi = 1U << 20;
constexpr uint16_t kBootArch8042 = 1U << 1;
constexpr uint16_t kBootArchVgaNotPresent = 1U << 2;
// Latencies above these say C2 and C3 are not supported.
constexpr uint16_t kNoC2Latency = 101;
constexpr uint16_t kNoC3Latency = 1001;
// Generic Address Structure (5.2.3.2).
constexpr uint8_t kGasSystemIo = 1;
constexpr uint8_t kGasAccessByte = 1;
constexpr std::size_t kGasSize = 12;
constexpr std::size_t kFadtUnusedXBlocks = 8;  // X_PM1a_EVT_BLK .. X_GPE1_BLK
constexpr std::size_t kFadtUnusedBlocks = 8;   // PM1a_EVT_BLK .. GPE1_BLK, 32 bits each

// MADT (5.2.12): ACPI 6.4 is revision 5.
constexpr uint8_t kMadtRevision = 5;
constexpr uint32_t kMadtPcatCompat = 1U << 0;
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtIoapic = 1;
constexpr uint8_t kMadtInterruptOverride = 2;
constexpr uint8_t kMadtLocalApicNmi = 4;
constexpr uint32_t kLocalApicEnabled = 1U << 0;
constexpr uint16_t kMpsIntiConforming = 0;
constexpr uint8_t kAllProcessors = 0xff;
constexpr uint8_t kLint1 = 1;
// APIC IDs 0..cpu_count-1 must stay below the xAPIC broadcast ID 0xff (and leave one for the
// IOAPIC); more would need x2APIC entries.
constexpr uint32_t kMaxCpus = 254;

// DSDT: revision 2 makes AML integers 64 bits wide.
constexpr uint8_t kDsdtRevision = 2;
constexpr uint16_t kPciConfigPort = 0xcf8;
constexpr uint8_t kPciConfigPortCount = 8;
constexpr uint8_t kPciSlots = 32;
constexpr uint8_t kPciPins = 4;
constexpr uint32_t kPrtAllFunctions = 0xffff;
constexpr uint8_t kNotifyButtonPressed = 0x80;  // PNP0C0C's device-specific notification
constexpr std::size_t kMaxVirtioMmio = 256;     // device names VR00..VRFF

uint64_t align_up(uint64_t v) { return (v + kTableAlignment - 1) & ~(kTableAlignment - 1); }

ByteWriter begin_table(std::string_view signature, uint8_t revision) {
  ByteWriter w;
  w.text(signature, 4);
  w.u32(0);  // length, set by finish_table
  w.u8(revision);
  w.u8(0);  // checksum, set by finish_table
  w.text(kAcpiOemId, 6);
  w.text(kAcpiOemTableId, 8);
  w.u32(kAcpiOemRevision);
  w.text(kAcpiCreatorId, 4);
  w.u32(kAcpiCreatorRevision);
  return w;
}

std::vector<uint8_t> finish_table(ByteWriter& w) {
  w.put_u32_at(kLengthOffset, static_cast<uint32_t>(w.size()));
  w.fix_checksum_at(kChecksumOffset);
  return w.take();
}

void gas_io(ByteWriter& w, uint16_t port) {
  w.u8(kGasSystemIo);
  w.u8(8);  // register bit width
  w.u8(0);  // bit offset
  w.u8(kGasAccessByte);
  w.u64(port);
}

uint32_t below_4g(uint64_t addr, const char* what) {
  if (addr > kMax32) throw Error(std::string("ACPI: ") + what + " above 4 GiB");
  return static_cast<uint32_t>(addr);
}

std::vector<uint8_t> build_rsdp(uint64_t xsdt_addr) {
  ByteWriter w;
  w.text("RSD PTR ", 8);
  w.u8(0);  // checksum of the first 20 bytes
  w.text(kAcpiOemId, 6);
  w.u8(kRsdpRevision);
  w.u32(0);  // RSDT address: only the XSDT is provided
  w.u32(kRsdpSize);
  w.u64(xsdt_addr);
  w.u8(0);  // extended checksum
  w.zeros(3);
  w.fix_checksum_at(kRsdpChecksumOffset, 0, kRsdpV1Size);
  w.fix_checksum_at(kRsdpExtChecksumOffset);
  return w.take();
}

std::vector<uint8_t> build_xsdt(std::span<const uint64_t> tables) {
  ByteWriter w = begin_table("XSDT", kXsdtRevision);
  for (uint64_t addr : tables) w.u64(addr);
  return finish_table(w);
}

std::vector<uint8_t> build_fadt(uint64_t dsdt_addr, const AcpiPmRegisters& pm) {
  ByteWriter w = begin_table("FACP", kFadtRevision);
  w.u32(0);  // FIRMWARE_CTRL: no FACS in hardware-reduced mode
  w.u32(dsdt_addr <= kMax32 ? static_cast<uint32_t>(dsdt_addr) : 0);
  w.u8(0);   // reserved
  w.u8(0);   // preferred PM profile: unspecified
  w.u16(0);  // SCI_INT: no SCI
  w.u32(0);  // SMI_CMD: no SMM, ACPI is always enabled
  w.u8(0);   // ACPI_ENABLE
  w.u8(0);   // ACPI_DISABLE
  w.u8(0);   // S4BIOS_REQ
  w.u8(0);   // PSTATE_CNT
  w.zeros(kFadtUnusedBlocks * sizeof(uint32_t));
  w.zeros(8);  // their lengths, GPE1_BASE, CST_CNT
  w.u16(kNoC2Latency);
  w.u16(kNoC3Latency);
  w.u16(0);  // FLUSH_SIZE
  w.u16(0);  // FLUSH_STRIDE
  w.u8(0);   // DUTY_OFFSET
  w.u8(0);   // DUTY_WIDTH
  w.u8(0);   // DAY_ALRM
  w.u8(0);   // MON_ALRM
  w.u8(0);   // CENTURY
  w.u16(kBootArch8042 | kBootArchVgaNotPresent);
  w.u8(0);  // reserved
  w.u32(kFadtPwrButton | kFadtSlpButton | kFadtResetRegSup | kFadtHwReducedAcpi);
  gas_io(w, pm.reset_port);
  w.u8(pm.reset_value);
  w.u16(0);  // ARM_BOOT_ARCH
  w.u8(kFadtMinorRevision);
  w.u64(0);  // X_FIRMWARE_CTRL
  w.u64(dsdt_addr);
  w.zeros(kFadtUnusedXBlocks * kGasSize);
  gas_io(w, pm.sleep_control_port);
  gas_io(w, pm.sleep_status_port);
  w.u64(0);  // hypervisor vendor identity
  if (w.size() != kFadtSize) throw Error("ACPI: FADT layout error");
  return finish_table(w);
}

std::vector<uint8_t> build_madt(const AcpiPlatform& p) {
  ByteWriter w = begin_table("APIC", kMadtRevision);
  w.u32(below_4g(p.lapic_addr, "local APIC"));
  w.u32(kMadtPcatCompat);
  // Processor UID = APIC ID = vCPU index, as CPUID reports it.
  for (uint32_t cpu = 0; cpu < p.cpu_count; ++cpu) {
    w.u8(kMadtLocalApic);
    w.u8(8);
    w.u8(static_cast<uint8_t>(cpu));
    w.u8(static_cast<uint8_t>(cpu));
    w.u32(kLocalApicEnabled);
  }
  w.u8(kMadtIoapic);
  w.u8(12);
  w.u8(p.ioapic_id);
  w.u8(0);  // reserved
  w.u32(below_4g(p.ioapic_addr, "IOAPIC"));
  w.u32(0);  // GSI base
  for (const auto& [irq, gsi] : p.isa_overrides) {
    w.u8(kMadtInterruptOverride);
    w.u8(10);
    w.u8(0);  // bus: ISA
    w.u8(irq);
    w.u32(gsi);
    w.u16(kMpsIntiConforming);
  }
  w.u8(kMadtLocalApicNmi);
  w.u8(6);
  w.u8(kAllProcessors);
  w.u16(kMpsIntiConforming);
  w.u8(kLint1);
  return finish_table(w);
}

// _HID: a compressed EISA ID where the ID has that form (PNP0501), else a string (QEMU0001).
aml::Bytes hardware_id(std::string_view id) {
  if (id.empty()) throw Error("ACPI: empty hardware ID");
  return aml::is_eisa_id(id) ? aml::integer(aml::eisa_id(id)) : aml::string(id);
}

aml::Bytes edge_interrupt(uint32_t gsi) {
  return aml::extended_interrupt(gsi, aml::Trigger::kEdge, aml::Polarity::kActiveHigh,
                                 aml::Sharing::kExclusive);
}

// The last port of a non-empty range that stays within the 64 KiB I/O space.
uint16_t io_last(const AcpiIoRange& r) {
  if (r.size == 0 || uint32_t{r.base} + r.size - 1 > std::numeric_limits<uint16_t>::max()) {
    throw Error("ACPI: invalid I/O range at " + std::to_string(r.base));
  }
  return static_cast<uint16_t>(r.base + r.size - 1);
}

aml::Bytes pci_host_bridge(const AcpiPciHost& pci) {
  std::vector<aml::Bytes> crs{aml::word_bus_number(0, 0xff),
                              aml::io(kPciConfigPort, kPciConfigPort, 1, kPciConfigPortCount)};
  for (const auto& window : pci.io_windows) {
    crs.push_back(aml::word_io(window.base, io_last(window)));
  }
  if (pci.mmio_size != 0) {
    const uint64_t last = pci.mmio_base + pci.mmio_size - 1;
    if (last < pci.mmio_base) throw Error("ACPI: PCI MMIO window wraps");
    crs.push_back(
        last <= kMax32
            ? aml::dword_memory(static_cast<uint32_t>(pci.mmio_base), static_cast<uint32_t>(last),
                                aml::Cacheability::kNonCacheable, true)
            : aml::qword_memory(pci.mmio_base, last, aml::Cacheability::kNonCacheable, true));
  }
  // _PRT entries: {address (device << 16, any function), pin, source (0 = GSI), GSI}.
  std::vector<aml::Bytes> prt;
  for (const auto& r : pci.routes) {
    if (r.slot >= kPciSlots || r.pin >= kPciPins) {
      throw Error("ACPI: invalid PCI route, slot " + std::to_string(r.slot) + " pin " +
                  std::to_string(r.pin));
    }
    prt.push_back(aml::package({aml::integer(uint32_t{r.slot} << 16 | kPrtAllFunctions),
                                aml::integer(r.pin), aml::integer(0), aml::integer(r.gsi)}));
  }
  // No _ADR: a device should have a _HID or an _ADR, not both (ACPI 6.x, 6.1).
  return aml::device(
      "PCI0",
      {aml::name("_HID", aml::integer(aml::eisa_id("PNP0A08"))),
       aml::name("_CID", aml::integer(aml::eisa_id("PNP0A03"))), aml::name("_SEG", aml::integer(0)),
       aml::name("_UID", aml::integer(0)), aml::name("_BBN", aml::integer(0)),
       aml::name("_CRS", aml::resource_template(crs)), aml::name("_PRT", aml::package(prt))});
}

aml::Bytes isa_device(const AcpiIsaDevice& d) {
  aml::validate_name_seg(d.name);
  std::vector<aml::Bytes> terms{aml::name("_HID", hardware_id(d.hid)),
                                aml::name("_UID", aml::integer(d.uid))};
  std::vector<aml::Bytes> crs;
  for (const auto& r : d.io) {
    (void)io_last(r);  // validates the range
    if (r.size > std::numeric_limits<uint8_t>::max()) {
      throw Error("ACPI: " + d.name + " I/O range longer than 255 ports");
    }
    crs.push_back(aml::io(r.base, r.base, 1, static_cast<uint8_t>(r.size)));
  }
  if (d.irq) crs.push_back(aml::irq_no_flags(*d.irq));
  if (!crs.empty()) terms.push_back(aml::name("_CRS", aml::resource_template(crs)));
  return aml::device(d.name, terms);
}

aml::Bytes virtio_mmio_device(const AcpiVirtioMmio& v, std::size_t index) {
  if (v.size == 0 || v.size > kMax32 || v.base > kMax32 - (v.size - 1)) {
    throw Error("ACPI: virtio-mmio window " + std::to_string(index) + " not below 4 GiB");
  }
  constexpr std::string_view kHexDigits = "0123456789ABCDEF";
  const std::string name{'V', 'R', kHexDigits[index >> 4 & 0xf], kHexDigits[index & 0xf]};
  return aml::device(
      name, {aml::name("_HID", aml::string("LNRO0005")), aml::name("_UID", aml::integer(index)),
             aml::name("_CRS", aml::resource_template(
                                   {aml::memory32_fixed(static_cast<uint32_t>(v.base),
                                                        static_cast<uint32_t>(v.size), true),
                                    edge_interrupt(v.gsi)}))});
}

// The power button: a GED interrupt whose _EVT (called with the GSI) notifies PNP0C0C.
std::vector<aml::Bytes> power_button(uint32_t gsi) {
  return {
      aml::device("PWRB", {aml::name("_HID", aml::integer(aml::eisa_id("PNP0C0C"))),
                           aml::name("_UID", aml::integer(0))}),
      aml::device(
          "GED0",
          {aml::name("_HID", aml::string("ACPI0013")),
           aml::name("_CRS", aml::resource_template({edge_interrupt(gsi)})),
           aml::method(
               "_EVT", 1, aml::MethodSync::kSerialized,
               {aml::if_then(aml::lequal(aml::arg(0), aml::integer(gsi)),
                             {aml::notify("\\_SB_.PWRB", aml::integer(kNotifyButtonPressed))})})}),
  };
}

std::vector<uint8_t> build_dsdt(const AcpiPlatform& p) {
  if (p.virtio_mmio.size() > kMaxVirtioMmio) throw Error("ACPI: too many virtio-mmio devices");
  std::vector<aml::Bytes> sb;
  if (p.pci) sb.push_back(pci_host_bridge(*p.pci));
  for (const auto& d : p.isa_devices) sb.push_back(isa_device(d));
  for (std::size_t i = 0; i < p.virtio_mmio.size(); ++i) {
    sb.push_back(virtio_mmio_device(p.virtio_mmio[i], i));
  }
  for (auto& b : power_button(p.power_button_gsi)) sb.push_back(std::move(b));

  ByteWriter w = begin_table("DSDT", kDsdtRevision);
  w.bytes(aml::scope("\\_SB_", sb));
  // _S5: {SLP_TYPa, SLP_TYPb, reserved, reserved}; only SLP_TYPa reaches the sleep control
  // register in hardware-reduced mode.
  w.bytes(aml::name("_S5_", aml::package({aml::integer(kAcpiS5SleepType), aml::integer(0),
                                          aml::integer(0), aml::integer(0)})));
  return finish_table(w);
}

}  // namespace

uint64_t AcpiTables::end() const noexcept { return dsdt_addr + dsdt.size(); }

AcpiTables build_acpi_tables(const AcpiPlatform& platform, uint64_t rsdp_addr) {
  if (platform.cpu_count == 0 || platform.cpu_count > kMaxCpus) {
    throw ConfigError("vCPU count " + std::to_string(platform.cpu_count) +
                      " does not fit the ACPI MADT (1.." + std::to_string(kMaxCpus) + ")");
  }
  if (rsdp_addr % 16 != 0) throw Error("ACPI: the RSDP must be 16-byte aligned");

  AcpiTables t;
  t.rsdp_addr = rsdp_addr;
  t.madt = build_madt(platform);
  t.dsdt = build_dsdt(platform);
  // Every table's size is known before the pointers to the others are.
  t.xsdt_addr = align_up(rsdp_addr + kRsdpSize);
  t.fadt_addr = align_up(t.xsdt_addr + kHeaderSize + kXsdtEntries * sizeof(uint64_t));
  t.madt_addr = align_up(t.fadt_addr + kFadtSize);
  t.dsdt_addr = align_up(t.madt_addr + t.madt.size());
  t.fadt = build_fadt(t.dsdt_addr, platform.pm);
  const std::array<uint64_t, kXsdtEntries> entries{t.fadt_addr, t.madt_addr};
  t.xsdt = build_xsdt(entries);
  t.rsdp = build_rsdp(t.xsdt_addr);
  return t;
}

GuestAddress write_acpi_tables(const GuestMemory& mem, const AcpiPlatform& platform) {
  const AcpiTables t = build_acpi_tables(platform, kAcpiRsdpAddr);
  if (t.end() > kAcpiTablesEnd) {
    throw Error("ACPI tables need " + std::to_string(t.end() - kAcpiRsdpAddr) +
                " bytes, more than the " + std::to_string(kAcpiTablesEnd - kAcpiRsdpAddr) +
                " reserved for them");
  }
  // Clear the whole area first: a rebooted VM keeps its RAM, and stale bytes between the
  // tables (or an old RSDP) must not survive.
  bool ok = mem.fill(GuestAddress(kAcpiRsdpAddr), kAcpiTablesEnd - kAcpiRsdpAddr, 0);
  const std::array<std::pair<uint64_t, const std::vector<uint8_t>*>, 5> tables{{
      {t.rsdp_addr, &t.rsdp},
      {t.xsdt_addr, &t.xsdt},
      {t.fadt_addr, &t.fadt},
      {t.madt_addr, &t.madt},
      {t.dsdt_addr, &t.dsdt},
  }};
  for (const auto& [addr, bytes] : tables) ok = ok && mem.write(GuestAddress(addr), *bytes);
  if (!ok) throw Error("guest RAM does not cover the ACPI table area");
  return GuestAddress(t.rsdp_addr);
}

}  // namespace vmm::x86_64
