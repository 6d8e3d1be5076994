#pragma once
// Guest-physical memory layout of an arm64 VM: every fixed address the VMM places something at
// lives here, so overlaps are visible in one place.
//
//   0x0000_0000  128 MiB   nothing: kept free for a firmware flash (UEFI) later
//   0x0800_0000   64 KiB   GICv3 distributor
//   0x0808_0000  128 KiB   nothing: kept free for a GICv3 ITS (MSIs) later
//   0x0900_0000    4 KiB   16550A UART
//   0x0901_0000    4 KiB   PL031 RTC
//   0x0902_0000    4 KiB   debug-exit
//   0x0a00_0000   32 x 4 KiB virtio-mmio slots
//   0x0c00_0000   32 MiB   GICv3 redistributors, 128 KiB per vCPU (256 vCPUs)
//   0x1000_0000  256 MiB   PCI ECAM, buses 0-255
//   0x2000_0000  1.5 GiB   PCI 32-bit MMIO window
//   0x8000_0000            RAM, up to the 40-bit IPA limit
//
// RAM starts at 2 GiB (as on Firecracker and crosvm) rather than QEMU virt's 1 GiB so that the
// 32-bit space below it holds a 1.5 GiB PCI window for devices whose BARs must stay below 4 GiB.
// Every device sits below RAM, so RAM is one contiguous region of any size.
#include <cstdint>

namespace vmm::aarch64 {

inline constexpr uint64_t kKiB = 1ULL << 10;
inline constexpr uint64_t kMiB = 1ULL << 20;
inline constexpr uint64_t kGiB = 1ULL << 30;

// GICv3 (arm,gic-v3 binding). The distributor is one 64 KiB frame; each redistributor is two
// (RD_base and SGI_base), and they are packed one per vCPU in vCPU order.
inline constexpr uint64_t kGicDistBase = 0x0800'0000;
inline constexpr uint64_t kGicDistSize = 64 * kKiB;
inline constexpr uint64_t kGicRedistBase = 0x0c00'0000;
inline constexpr uint64_t kGicRedistStride = 128 * kKiB;
inline constexpr uint64_t kGicRedistRegionSize = 32 * kMiB;
// What the redistributor region holds; below KVM's own limit for GICv3 guests (512).
inline constexpr uint32_t kMaxVcpus = kGicRedistRegionSize / kGicRedistStride;

// Legacy devices, each in a page of its own so that a page-granular mapping never mixes two.
inline constexpr uint64_t kUartBase = 0x0900'0000;
inline constexpr uint64_t kUartSize = 4 * kKiB;
// The 16550's reference clock: 1.8432 MHz gives 115200 baud at divisor 1, the value every
// 8250 driver assumes for a PC-style UART.
inline constexpr uint32_t kUartClockHz = 1'843'200;
inline constexpr uint64_t kRtcBase = 0x0901'0000;
inline constexpr uint64_t kRtcSize = 4 * kKiB;
// The PL031's APB bus clock (the primecell binding requires one; its rate does not matter to
// the RTC, which counts seconds).
inline constexpr uint32_t kApbClockHz = 24'000'000;
inline constexpr uint64_t kDebugExitBase = 0x0902'0000;
inline constexpr uint64_t kDebugExitSize = 4 * kKiB;

// virtio-mmio: one page per device, like the x86-64 layout.
inline constexpr uint64_t kVirtioMmioBase = 0x0a00'0000;
inline constexpr uint64_t kVirtioMmioSize = 4 * kKiB;
inline constexpr uint32_t kVirtioMmioSlots = 32;

// PCI: a generic ECAM host bridge (pci-host-ecam-generic), 1 MiB of configuration space per bus.
inline constexpr uint64_t kPciEcamBase = 0x1000'0000;
inline constexpr uint64_t kPciEcamSize = 256 * kMiB;
inline constexpr uint64_t kPciMmioBase = 0x2000'0000;
inline constexpr uint64_t kPciMmioSize = 0x6000'0000;

inline constexpr uint64_t kRamBase = 0x8000'0000;
// KVM's default IPA size is 40 bits; RAM must end below it.
inline constexpr uint64_t kIpaLimit = 1ULL << 40;
inline constexpr uint64_t kRamMaxSize = kIpaLimit - kRamBase;

// Interrupts are GIC SPI numbers (INTID - 32), as the device tree writes them; legacy devices,
// PCI and virtio-mmio each start a group of their own, with room left in each.
inline constexpr uint32_t kUartSpi = 0;
inline constexpr uint32_t kRtcSpi = 1;
// INTA..INTD of the PCI host bridge, swizzled by slot (interrupt-map).
inline constexpr uint32_t kPciIntxFirstSpi = 4;
inline constexpr uint32_t kVirtioMmioFirstSpi = 16;
// KVM's GICv3 has 256 INTIDs unless told otherwise: SPIs 0..223.
inline constexpr uint32_t kMaxSpi = 223;

// The architected timer's PPIs (PPI number = INTID - 16): the Server Base System Architecture's
// assignment, which KVM follows for the virtual timer (27) and the physical timer (30).
inline constexpr uint32_t kTimerSecurePhysPpi = 13;
inline constexpr uint32_t kTimerPhysPpi = 14;
inline constexpr uint32_t kTimerVirtPpi = 11;
inline constexpr uint32_t kTimerHypPpi = 10;

// The kernel's 2 MiB block (Documentation/arch/arm64/booting.rst: the Image goes text_offset
// bytes above a 2 MiB-aligned base). The first block of RAM is the natural one: kernels without
// the "anywhere in memory" flag cannot use RAM below their load address.
inline constexpr uint64_t kKernelAlignment = 2 * kMiB;

// The device tree: booting.rst allows up to 2 MiB on an 8-byte boundary, in a 2 MiB block that
// needs no special attributes. It takes the last whole 2 MiB block of RAM, far from the kernel
// and with the initrd below it.
inline constexpr uint64_t kFdtMaxSize = 2 * kMiB;

[[nodiscard]] constexpr uint64_t virtio_mmio_slot_base(uint32_t slot) noexcept {
  return kVirtioMmioBase + uint64_t{slot} * kVirtioMmioSize;
}
[[nodiscard]] constexpr uint32_t virtio_mmio_slot_spi(uint32_t slot) noexcept {
  return kVirtioMmioFirstSpi + slot;
}

// Where the device tree goes for RAM [ram_base, ram_base + ram_size): the last 2 MiB-aligned
// block wholly inside it. The caller makes sure RAM holds at least one such block.
[[nodiscard]] constexpr uint64_t fdt_address(uint64_t ram_base, uint64_t ram_size) noexcept {
  return ((ram_base + ram_size) & ~(kFdtMaxSize - 1)) - kFdtMaxSize;
}

// The MPIDR affinity KVM gives vCPU `index` by default (Aff0 holds 16 vCPUs, because GICv3's
// SGI registers target at most 16 CPUs of one cluster): the "reg" of its cpu node.
[[nodiscard]] constexpr uint64_t mpidr_affinity(uint32_t index) noexcept {
  return (uint64_t{index} & 0xf) | ((uint64_t{index} >> 4 & 0xff) << 8) |
         ((uint64_t{index} >> 12 & 0xff) << 16);
}

}  // namespace vmm::aarch64
