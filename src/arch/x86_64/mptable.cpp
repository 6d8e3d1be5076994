#include "arch/x86_64/mptable.hpp"

#include <algorithm>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "arch/x86_64/byte_writer.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {

namespace {

static_assert(kEbdaStart < kMpFloatingPointerAddr);
static_assert(kMpFloatingPointerAddr % 16 == 0, "the floating pointer must be paragraph aligned");
// Linux looks for it in the last KiB below 640 KiB.
static_assert(kMpFloatingPointerAddr >= 639 * kKiB &&
              kMpFloatingPointerAddr + kMpFloatingPointerSize <= 640 * kKiB);
static_assert(kMpFloatingPointerAddr + kMpFloatingPointerSize <= kBiosStart);

constexpr std::size_t kConfigTableCapacity = kMpFloatingPointerAddr - kEbdaStart;
constexpr uint8_t kMpSpecRevision = 4;     // MP spec 1.4
constexpr uint32_t kMaxApicIdCpus = 0xfe;  // APIC IDs 0..cpu_count-1 plus the IOAPIC's, < 0xff
constexpr uint8_t kAllLocalApics = 0xff;
constexpr uint8_t kBspApicId = 0;
// "Conforms to the bus": ISA edge/active high, PCI level/active low.
constexpr uint16_t kMpIrqFlagsConforming = 0;
constexpr uint8_t kMpIoapicEnabled = 1;
// CPU signature and feature flags of the processor entries: informational only (the guest
// uses CPUID); family 6 with an on-chip APIC and FPU.
constexpr uint32_t kMpCpuSignature = 6U << 8;
constexpr uint32_t kMpCpuFeatureFpu = 1U << 0;
constexpr uint32_t kMpCpuFeatureApic = 1U << 9;
constexpr std::size_t kFixedEntries =
    2 /* buses */ + 1 /* IOAPIC */ + kMpIsaIrqCount + 2 /* local interrupts */;

void interrupt_entry(ByteWriter& w, uint8_t entry_type, uint8_t int_type, uint8_t bus,
                     uint8_t bus_irq, uint8_t dest_id, uint8_t dest_pin) {
  w.u8(entry_type);
  w.u8(int_type);
  w.u16(kMpIrqFlagsConforming);
  w.u8(bus);
  w.u8(bus_irq);
  w.u8(dest_id);
  w.u8(dest_pin);
}

void validate_pci_route(const MpPciInterrupt& route) {
  if (route.device >= 32 || route.pin >= 4 || route.ioapic_pin >= kIoapicPins) {
    throw Error("invalid PCI interrupt route: device " + std::to_string(route.device) + " pin " +
                std::to_string(route.pin) + " -> IOAPIC pin " + std::to_string(route.ioapic_pin));
  }
}

std::vector<uint8_t> build_config_table(uint32_t cpu_count,
                                        std::span<const MpPciInterrupt> pci_interrupts) {
  const auto ioapic_id = static_cast<uint8_t>(cpu_count);
  ByteWriter w;
  // Header; length, entry count and checksum are patched once the entries exist.
  w.text("PCMP", 4);
  w.u16(0);  // base table length
  w.u8(kMpSpecRevision);
  w.u8(0);  // checksum
  w.text("VMM", 8);
  w.text("KVM VM", 12);
  w.u32(0);  // OEM table pointer
  w.u16(0);  // OEM table size
  w.u16(0);  // entry count
  w.u32(static_cast<uint32_t>(kLapicAddr));
  w.u16(0);  // extended table length
  w.u8(0);   // extended table checksum
  w.u8(0);   // reserved

  // Entries, sorted by type as the spec requires.
  for (uint32_t cpu = 0; cpu < cpu_count; ++cpu) {
    w.u8(kMpEntryProcessor);
    w.u8(static_cast<uint8_t>(cpu));  // APIC ID = vCPU index, as CPUID reports
    w.u8(kMpLocalApicVersion);
    w.u8(static_cast<uint8_t>(kMpCpuEnabled | (cpu == kBspApicId ? kMpCpuBootstrap : 0)));
    w.u32(kMpCpuSignature);
    w.u32(kMpCpuFeatureFpu | kMpCpuFeatureApic);
    w.zeros(8);
  }
  w.u8(kMpEntryBus);
  w.u8(kMpPciBusId);
  w.text("PCI", 6);
  w.u8(kMpEntryBus);
  w.u8(kMpIsaBusId);
  w.text("ISA", 6);

  w.u8(kMpEntryIoapic);
  w.u8(ioapic_id);
  w.u8(kMpIoapicVersion);
  w.u8(kMpIoapicEnabled);
  w.u32(static_cast<uint32_t>(kIoapicAddr));

  // ISA IRQ n -> IOAPIC pin n. Real chipsets wire the PIT to pin 2 (and firmware declares an
  // IRQ0 override), but KVM's default GSI routing, which the in-kernel PIT and the VMM's
  // devices use, sends GSI n to IOAPIC pin n for n < 24. Declaring pin 2 for IRQ0 would make
  // Linux listen on a pin nothing raises.
  for (uint8_t irq = 0; irq < kMpIsaIrqCount; ++irq) {
    interrupt_entry(w, kMpEntryIoInterrupt, kMpIntTypeInt, kMpIsaBusId, irq, ioapic_id, irq);
  }
  // PCI source IRQ encoding: bits 6:2 device number, bits 1:0 INTx pin.
  for (const auto& route : pci_interrupts) {
    const auto source = static_cast<uint8_t>((route.device << 2) | route.pin);
    interrupt_entry(w, kMpEntryIoInterrupt, kMpIntTypeInt, kMpPciBusId, source, ioapic_id,
                    route.ioapic_pin);
  }
  // Virtual wire mode: the PIC reaches the BSP through LINT0, NMIs every CPU through LINT1.
  interrupt_entry(w, kMpEntryLocalInterrupt, kMpIntTypeExtInt, kMpIsaBusId, 0, kBspApicId, 0);
  interrupt_entry(w, kMpEntryLocalInterrupt, kMpIntTypeNmi, kMpIsaBusId, 0, kAllLocalApics, 1);

  const std::size_t entries = cpu_count + kFixedEntries + pci_interrupts.size();
  w.put_u16_at(4, static_cast<uint16_t>(w.size()));
  w.put_u16_at(34, static_cast<uint16_t>(entries));
  w.fix_checksum_at(7);
  return w.bytes();
}

std::vector<uint8_t> build_floating_pointer() {
  ByteWriter w;
  w.text("_MP_", 4);
  w.u32(static_cast<uint32_t>(kEbdaStart));  // configuration table address
  w.u8(kMpFloatingPointerSize / 16);         // length in paragraphs
  w.u8(kMpSpecRevision);
  w.u8(0);  // checksum
  w.u8(0);  // feature 1: 0 = a configuration table is present (no default configuration)
  w.u8(0);  // feature 2: IMCR absent, i.e. virtual wire mode
  w.zeros(3);
  w.fix_checksum_at(10);
  return w.bytes();
}

}  // namespace

std::size_t mp_config_table_size(uint32_t cpu_count, std::size_t pci_interrupt_count) noexcept {
  return kMpConfigHeaderSize + cpu_count * kMpProcessorEntrySize +
         (kFixedEntries + pci_interrupt_count) * kMpSmallEntrySize;
}

uint32_t mptable_max_cpus(std::size_t pci_interrupt_count) noexcept {
  const std::size_t fixed = mp_config_table_size(0, pci_interrupt_count);
  if (fixed > kConfigTableCapacity) return 0;
  const std::size_t by_space = (kConfigTableCapacity - fixed) / kMpProcessorEntrySize;
  return static_cast<uint32_t>(std::min<std::size_t>(by_space, kMaxApicIdCpus));
}

void write_mptable(const GuestMemory& mem, uint32_t cpu_count,
                   std::span<const MpPciInterrupt> pci_interrupts) {
  const uint32_t max_cpus = mptable_max_cpus(pci_interrupts.size());
  if (cpu_count == 0 || cpu_count > max_cpus) {
    throw ConfigError("vCPU count " + std::to_string(cpu_count) +
                      " does not fit the MP table (1.." + std::to_string(max_cpus) + ")");
  }
  std::for_each(pci_interrupts.begin(), pci_interrupts.end(), validate_pci_route);

  const auto table = build_config_table(cpu_count, pci_interrupts);
  const auto pointer = build_floating_pointer();
  if (!mem.write(GuestAddress(kEbdaStart), table) ||
      !mem.write(GuestAddress(kMpFloatingPointerAddr), pointer)) {
    throw Error("guest RAM does not cover the MP table area");
  }
}

}  // namespace vmm::x86_64
