#pragma once
// The flattened device tree an arm64 guest boots with (Documentation/arch/arm64/booting.rst,
// the Devicetree Specification and the Linux bindings named below), built with libfdt from a
// plain description. Nothing here knows a fixed address except through that description;
// standard_device_tree() fills it from memory_layout.hpp.
//
// The platform is QEMU virt's shape ("linux,dummy-virt"): PSCI over HVC, a GICv3, the
// architected timer, a 16550A UART over MMIO, a PL031 RTC, virtio-mmio devices, optionally a
// generic ECAM PCI host bridge, and vmm's debug-exit register.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmm::aarch64 {

// "vmm,debug-exit": one 32-bit register at offset 0. A little-endian write of v (1, 2 or 4
// bytes) ends the VM and its outcome carries v, as the x86-64 debug-exit port does; reads
// return all-ones. A guest test reports its status with it.
inline constexpr const char* kDebugExitCompatible = "vmm,debug-exit";

// Linux's command line limit on arm64 (COMMAND_LINE_SIZE), the NUL included.
inline constexpr uint64_t kMaxBootargsSize = 2048;

struct FdtMmioDevice {
  uint64_t base = 0;
  uint64_t size = 0;
  uint32_t spi = 0;  // GIC SPI number (INTID - 32)
};

enum class VirtioMmioKind : uint8_t { kBlock, kNet, kConsole, kOther };

struct FdtVirtioMmio {
  FdtMmioDevice mmio;
  VirtioMmioKind kind = VirtioMmioKind::kOther;  // for the reader only: the node is the same
};

struct FdtGicV3 {
  uint64_t dist_base = 0;
  uint64_t dist_size = 0;
  uint64_t redist_base = 0;
  uint64_t redist_region_size = 0;  // the room there is; the node claims 128 KiB per vCPU
};

// A generic ECAM host bridge ("pci-host-ecam-generic") with one non-prefetchable MMIO window
// mapped 1:1. INTA..INTD of device d go to intx_spis[(d + pin) % 4], the swizzle of a
// PCI-to-PCI bridge, so the map needs only the low two bits of d (16 entries, level-high).
struct FdtPciHost {
  uint64_t ecam_base = 0;
  uint64_t ecam_size = 0;  // 1 MiB per bus, from bus 0
  uint64_t mmio_base = 0;
  uint64_t mmio_size = 0;
  std::array<uint32_t, 4> intx_spis{};
};

struct FdtInitrd {
  uint64_t start = 0;
  uint64_t size = 0;
};

struct DeviceTreeDescription {
  uint64_t ram_base = 0;
  uint64_t ram_size = 0;
  uint32_t vcpu_count = 1;  // cpu@N has KVM's default MPIDR affinity for vCPU N
  FdtGicV3 gic;
  FdtMmioDevice uart;  // 16550A ("ns16550a"), byte registers
  uint32_t uart_clock_hz = 0;
  FdtMmioDevice rtc;  // PL031
  uint32_t apb_clock_hz = 0;
  std::optional<FdtMmioDevice> debug_exit;  // its spi is unused
  std::vector<FdtVirtioMmio> virtio_mmio;
  std::optional<FdtPciHost> pci;
  std::string bootargs;
  std::optional<FdtInitrd> initrd;
};

// The standard platform of memory_layout.hpp for `ram_size` bytes of RAM and `vcpu_count`
// vCPUs, with debug-exit, PCI and no virtio devices (add them with virtio_mmio_slot()).
[[nodiscard]] DeviceTreeDescription standard_device_tree(uint64_t ram_size, uint32_t vcpu_count);
// virtio-mmio slot `slot` of memory_layout.hpp.
[[nodiscard]] FdtVirtioMmio virtio_mmio_slot(uint32_t slot, VirtioMmioKind kind);

// The device tree blob, at most kFdtMaxSize bytes. Throws ConfigError for a description a user
// could have caused (too many vCPUs, RAM or an initrd out of range, an over-long command line)
// and vmm::Error for an inconsistent one or a libfdt failure, naming libfdt's reason.
[[nodiscard]] std::vector<uint8_t> build_device_tree(const DeviceTreeDescription& desc);

// Phandles the tree assigns, for tests and for a reader of /sys/firmware/devicetree.
inline constexpr uint32_t kGicPhandle = 1;
inline constexpr uint32_t kApbClockPhandle = 2;

}  // namespace vmm::aarch64
