#pragma once
// Guest-physical memory layout of an x86-64 VM: every fixed address the VMM places something
// at lives here, so overlaps are visible in one place.
#include <array>
#include <cstdint>

namespace vmm::x86_64 {

inline constexpr uint64_t kKiB = 1ULL << 10;
inline constexpr uint64_t kMiB = 1ULL << 20;
inline constexpr uint64_t kGiB = 1ULL << 30;

// Low memory (below 1 MiB).
inline constexpr uint64_t kGdtAddr = 0x500;        // boot GDT (4 entries)
inline constexpr uint64_t kIdtAddr = 0x520;        // empty boot IDT
inline constexpr uint64_t kZeroPageAddr = 0x7000;  // struct boot_params
inline constexpr uint64_t kBootStackTop = 0x8ff0;  // initial RSP/RBP
inline constexpr uint64_t kPml4Addr = 0x9000;      // identity map of the first 4 GiB
inline constexpr uint64_t kPdptAddr = 0xa000;
inline constexpr uint64_t kPdAddr = 0xb000;  // 4 page directories: 0xb000..0xefff
inline constexpr uint64_t kCmdlineAddr = 0x20000;
inline constexpr uint64_t kCmdlineMaxSize = 0x10000;
// Extended BIOS data area: reserved, holds the MP configuration table (3 KiB: room for well over
// 64 vCPUs) followed by the MP floating pointer at 639 KiB, inside the top KiB of base memory
// that Linux scans for the "_MP_" signature.
inline constexpr uint64_t kEbdaStart = 0x9f000;
inline constexpr uint64_t kMpFloatingPointerAddr = 0x9fc00;
inline constexpr uint64_t kBiosStart = 0xa0000;  // VGA hole + BIOS: reserved up to 1 MiB
// Firmware tables in the BIOS area, where guests also scan for their anchors: the ACPI RSDP and
// the tables after it (64 KiB), then the SMBIOS entry point and structure table (64 KiB).
inline constexpr uint64_t kAcpiRsdpAddr = 0xe0000;
inline constexpr uint64_t kAcpiTablesEnd = 0xf0000;
inline constexpr uint64_t kSmbiosAddr = 0xf0000;
inline constexpr uint64_t kSmbiosEnd = 0x100000;
inline constexpr uint64_t kHighMemStart = 0x100000;

// The 32-bit MMIO hole: no RAM between 3 GiB and 4 GiB.
inline constexpr uint64_t kMmioHoleStart = 3 * kGiB;
inline constexpr uint64_t kMmioHoleEnd = 4 * kGiB;
// Inside the hole: virtio-mmio devices, then PCI BARs, then the interrupt controllers.
inline constexpr uint64_t kVirtioMmioStart = 0xd0000000;
inline constexpr uint64_t kVirtioMmioSize = 0x1000;  // per device
inline constexpr uint64_t kPciMmioStart = 0xe0000000;
inline constexpr uint64_t kPciMmioEnd = 0xfec00000;
inline constexpr uint64_t kIoapicAddr = 0xfec00000;
inline constexpr uint64_t kLapicAddr = 0xfee00000;

// KVM's private pages (KVM_SET_TSS_ADDR needs 3 pages, the identity map 1), just below the
// IOAPIC, inside the hole so they never shadow RAM.
inline constexpr uint64_t kKvmIdentityMapAddr = 0xfeffc000;
inline constexpr uint64_t kKvmTssAddr = 0xfeffd000;

// Hardware-reduced ACPI sleep control, sleep status and reset registers (3 ports).
inline constexpr uint16_t kAcpiPowerPort = 0x600;

// ISA interrupt lines.
inline constexpr uint32_t kSerialCom1Irq = 4;
inline constexpr uint32_t kRtcIrq = 8;
inline constexpr uint32_t kI8042KbdIrq = 1;
inline constexpr uint32_t kIoapicPins = 24;
// The ACPI power button's GED line (edge), an ISA line nothing else uses.
inline constexpr uint32_t kPowerButtonIrq = 13;
// virtio-mmio devices take ISA lines nothing else uses (edge-triggered, one per device).
inline constexpr std::array<uint32_t, 8> kVirtioMmioIrqs = {5, 6, 7, 9, 10, 11, 12, 14};
// PCI INTA# of slot s goes to IOAPIC pin kPciIntxFirstPin + (s - 1) % 8.
inline constexpr uint32_t kPciIntxFirstPin = 16;

}  // namespace vmm::x86_64
