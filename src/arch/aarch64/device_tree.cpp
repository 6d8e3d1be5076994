#include "arch/aarch64/device_tree.hpp"

#include <fmt/format.h>
#include <libfdt.h>

#include <algorithm>
#include <bit>
#include <initializer_list>
#include <set>
#include <span>
#include <string_view>
#include <utility>

#include "arch/aarch64/memory_layout.hpp"
#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"

namespace vmm::aarch64 {
namespace {

// Interrupt specifiers of the GICv3 binding: <type number flags>.
constexpr uint32_t kGicSpi = 0;
constexpr uint32_t kGicPpi = 1;
constexpr uint32_t kIrqEdgeRising = 1;
constexpr uint32_t kIrqLevelHigh = 4;

constexpr uint64_t kPciBusSize = 1 * kMiB;
constexpr uint64_t k4GiB = 4 * kGiB;
// phys.hi of a PCI address: the space code of 32-bit and 64-bit memory.
constexpr uint32_t kPciSpaceMem32 = 0x0200'0000;
constexpr uint32_t kPciSpaceMem64 = 0x0300'0000;
constexpr uint32_t kPciDeviceShift = 11;

// The first buffer tried; a tree with many devices grows it up to kFdtMaxSize.
constexpr std::size_t kInitialFdtSize = 16 * kKiB;

// libfdt ran out of room in the buffer: build again in a bigger one.
struct NoSpace {};

// Property values: big-endian 32-bit cells, 64-bit values as two cells.
class Cells {
 public:
  Cells& u32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      bytes_.push_back(static_cast<uint8_t>(v >> shift));
    }
    return *this;
  }
  Cells& u64(uint64_t v) {
    return u32(static_cast<uint32_t>(v >> 32)).u32(static_cast<uint32_t>(v));
  }
  [[nodiscard]] const std::vector<uint8_t>& bytes() const noexcept { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// libfdt's sequential-write API over a buffer this object owns. Properties of a node come
// before its subnodes, as that API requires.
class FdtWriter {
 public:
  explicit FdtWriter(std::size_t size) : buf_(size) {
    check(fdt_create(buf_.data(), static_cast<int>(buf_.size())), "fdt_create");
    check(fdt_finish_reservemap(buf_.data()), "fdt_finish_reservemap");
  }

  void begin_node(const std::string& name) {
    check(fdt_begin_node(buf_.data(), name.c_str()), "fdt_begin_node " + name);
  }
  void end_node() { check(fdt_end_node(buf_.data()), "fdt_end_node"); }

  void property(const char* name, std::span<const uint8_t> value) {
    check(fdt_property(buf_.data(), name, value.data(), static_cast<int>(value.size())),
          std::string("fdt_property ") + name);
  }
  void property(const char* name, const Cells& cells) { property(name, cells.bytes()); }
  void property_empty(const char* name) { property(name, std::span<const uint8_t>{}); }
  void property_u32(const char* name, uint32_t value) { property(name, Cells().u32(value)); }
  // One string, or a string list: each NUL-terminated.
  void property_strings(const char* name, std::initializer_list<std::string_view> strings) {
    std::vector<uint8_t> value;
    for (const auto s : strings) {
      value.insert(value.end(), s.begin(), s.end());
      value.push_back(0);
    }
    property(name, value);
  }

  [[nodiscard]] std::vector<uint8_t> finish() && {
    check(fdt_finish(buf_.data()), "fdt_finish");
    check(fdt_check_header(buf_.data()), "fdt_check_header");
    buf_.resize(fdt_totalsize(static_cast<const void*>(buf_.data())));
    return std::move(buf_);
  }

 private:
  static void check(int err, const std::string& what) {
    if (err == -FDT_ERR_NOSPACE) throw NoSpace{};
    if (err < 0) throw Error(fmt::format("device tree: {} failed: {}", what, fdt_strerror(err)));
  }

  std::vector<uint8_t> buf_;
};

std::string unit_name(std::string_view name, uint64_t address) {
  return fmt::format("{}@{:x}", name, address);
}

Cells reg(uint64_t base, uint64_t size) {
  Cells c;
  c.u64(base).u64(size);
  return c;
}

Cells spi(uint32_t number, uint32_t flags) {
  Cells c;
  c.u32(kGicSpi).u32(number).u32(flags);
  return c;
}

// --- Checks of the description ---

struct Window {
  std::string what;
  uint64_t base = 0;
  uint64_t size = 0;
};

void check_windows(const DeviceTreeDescription& d) {
  std::vector<Window> windows{{"RAM", d.ram_base, d.ram_size},
                              {"GICv3 distributor", d.gic.dist_base, d.gic.dist_size},
                              {"GICv3 redistributors", d.gic.redist_base, d.gic.redist_region_size},
                              {"UART", d.uart.base, d.uart.size},
                              {"RTC", d.rtc.base, d.rtc.size}};
  if (d.debug_exit) windows.push_back({"debug-exit", d.debug_exit->base, d.debug_exit->size});
  for (const auto& v : d.virtio_mmio) windows.push_back({"virtio-mmio", v.mmio.base, v.mmio.size});
  if (d.pci) {
    windows.push_back({"PCI ECAM", d.pci->ecam_base, d.pci->ecam_size});
    windows.push_back({"PCI MMIO window", d.pci->mmio_base, d.pci->mmio_size});
  }
  for (const auto& w : windows) {
    if (w.size == 0 || !checked_add(w.base, w.size) || w.base + w.size > kIpaLimit) {
      throw Error(
          fmt::format("device tree: {} [{:#x}, +{:#x}) is empty or beyond the {}-bit "
                      "guest address space",
                      w.what, w.base, w.size, std::countr_zero(kIpaLimit)));
    }
  }
  std::sort(windows.begin(), windows.end(),
            [](const Window& a, const Window& b) { return a.base < b.base; });
  for (std::size_t i = 1; i < windows.size(); ++i) {
    const auto& prev = windows[i - 1];
    if (windows[i].base < prev.base + prev.size) {
      throw Error(fmt::format("device tree: {} at {:#x} overlaps {} at {:#x}", windows[i].what,
                              windows[i].base, prev.what, prev.base));
    }
  }
}

void check_interrupts(const DeviceTreeDescription& d) {
  std::set<uint32_t> used;
  const auto take = [&used](uint32_t number, const char* what) {
    if (number > kMaxSpi) {
      throw Error(fmt::format("device tree: {} SPI {} is above the GIC's last SPI {}", what, number,
                              kMaxSpi));
    }
    if (!used.insert(number).second) {
      throw Error(fmt::format("device tree: {} SPI {} is already taken", what, number));
    }
  };
  take(d.uart.spi, "UART");
  take(d.rtc.spi, "RTC");
  for (const auto& v : d.virtio_mmio) take(v.mmio.spi, "virtio-mmio");
  if (d.pci) {
    // INTA..INTD may share lines with each other but not with the devices above.
    const std::set<uint32_t> intx(d.pci->intx_spis.begin(), d.pci->intx_spis.end());
    for (const uint32_t number : intx) take(number, "PCI INTx");
  }
}

void check_description(const DeviceTreeDescription& d) {
  const uint64_t redist_need = uint64_t{d.vcpu_count} * kGicRedistStride;
  if (d.vcpu_count == 0 || redist_need > d.gic.redist_region_size) {
    throw ConfigError(fmt::format("{} vCPUs: an arm64 VM has 1 to {}", d.vcpu_count,
                                  d.gic.redist_region_size / kGicRedistStride));
  }
  if (d.ram_size == 0 || !checked_add(d.ram_base, d.ram_size)) {
    throw ConfigError(
        fmt::format("guest RAM [{:#x}, +{:#x}) is empty or wraps", d.ram_base, d.ram_size));
  }
  if (d.initrd && (d.initrd->size == 0 ||
                   !range_within(d.initrd->start, d.initrd->size, d.ram_base, d.ram_size))) {
    throw ConfigError(fmt::format("initrd [{:#x}, +{:#x}) is empty or outside guest RAM",
                                  d.initrd->start, d.initrd->size));
  }
  if (d.bootargs.find('\0') != std::string::npos) {
    throw ConfigError("kernel command line contains a NUL byte");
  }
  if (d.bootargs.size() + 1 > kMaxBootargsSize) {
    throw ConfigError(fmt::format("kernel command line is {} bytes; arm64 Linux takes at most {}",
                                  d.bootargs.size(), kMaxBootargsSize - 1));
  }
  if (d.pci) {
    const uint64_t buses = d.pci->ecam_size / kPciBusSize;
    if (d.pci->ecam_size % kPciBusSize != 0 || buses == 0 || buses > 256) {
      throw Error(fmt::format("device tree: PCI ECAM size {:#x} is not 1 to 256 buses of 1 MiB",
                              d.pci->ecam_size));
    }
  }
  check_windows(d);
  check_interrupts(d);
}

// --- The nodes ---

void write_chosen(FdtWriter& w, const DeviceTreeDescription& d) {
  w.begin_node("chosen");
  w.property_strings("bootargs", {d.bootargs});
  w.property_strings("stdout-path", {"/" + unit_name("serial", d.uart.base)});
  if (d.initrd) {
    w.property("linux,initrd-start", Cells().u64(d.initrd->start));
    w.property("linux,initrd-end", Cells().u64(d.initrd->start + d.initrd->size));
  }
  w.end_node();
}

void write_cpus(FdtWriter& w, const DeviceTreeDescription& d) {
  w.begin_node("cpus");
  // KVM's default MPIDRs fit Aff0..Aff2, so one cell holds every cpu's reg.
  w.property_u32("#address-cells", 1);
  w.property_u32("#size-cells", 0);
  for (uint32_t i = 0; i < d.vcpu_count; ++i) {
    const uint64_t mpidr = mpidr_affinity(i);
    w.begin_node(unit_name("cpu", mpidr));
    w.property_strings("device_type", {"cpu"});
    w.property_strings("compatible", {"arm,arm-v8"});
    w.property_u32("reg", static_cast<uint32_t>(mpidr));
    w.property_strings("enable-method", {"psci"});
    w.end_node();
  }
  w.end_node();
}

void write_gic(FdtWriter& w, const DeviceTreeDescription& d) {
  w.begin_node(unit_name("intc", d.gic.dist_base));
  w.property_strings("compatible", {"arm,gic-v3"});
  w.property_u32("#interrupt-cells", 3);
  w.property_empty("interrupt-controller");
  Cells regs = reg(d.gic.dist_base, d.gic.dist_size);
  regs.u64(d.gic.redist_base).u64(uint64_t{d.vcpu_count} * kGicRedistStride);
  w.property("reg", regs);
  // Address cells (and an empty ranges) let a PCI interrupt-map name the GIC as its parent
  // with a unit address, as the interrupt-map binding reads it.
  w.property_u32("#address-cells", 2);
  w.property_u32("#size-cells", 2);
  w.property_empty("ranges");
  w.property_u32("phandle", kGicPhandle);
  w.end_node();
}

void write_timer(FdtWriter& w) {
  w.begin_node("timer");
  w.property_strings("compatible", {"arm,armv8-timer"});
  Cells irqs;
  // The binding's order: secure physical, non-secure physical, virtual, hypervisor.
  for (const uint32_t ppi : {kTimerSecurePhysPpi, kTimerPhysPpi, kTimerVirtPpi, kTimerHypPpi}) {
    irqs.u32(kGicPpi).u32(ppi).u32(kIrqLevelHigh);
  }
  w.property("interrupts", irqs);
  // The counter keeps running in every power state the guest can enter.
  w.property_empty("always-on");
  w.end_node();
}

void write_platform_devices(FdtWriter& w, const DeviceTreeDescription& d) {
  w.begin_node("apb-pclk");
  w.property_strings("compatible", {"fixed-clock"});
  w.property_u32("#clock-cells", 0);
  w.property_u32("clock-frequency", d.apb_clock_hz);
  w.property_strings("clock-output-names", {"clk24mhz"});
  w.property_u32("phandle", kApbClockPhandle);
  w.end_node();

  // A 16550A rather than a PL011: vmm already models one (devices/legacy/serial) and Linux's
  // 8250 driver and earlycon take it over MMIO with byte-wide registers.
  w.begin_node(unit_name("serial", d.uart.base));
  w.property_strings("compatible", {"ns16550a"});
  w.property("reg", reg(d.uart.base, d.uart.size));
  w.property("interrupts", spi(d.uart.spi, kIrqLevelHigh));
  w.property_u32("clock-frequency", d.uart_clock_hz);
  w.property_u32("reg-shift", 0);
  w.property_u32("reg-io-width", 1);
  w.end_node();

  w.begin_node(unit_name("rtc", d.rtc.base));
  w.property_strings("compatible", {"arm,pl031", "arm,primecell"});
  w.property("reg", reg(d.rtc.base, d.rtc.size));
  w.property("interrupts", spi(d.rtc.spi, kIrqLevelHigh));
  w.property_u32("clocks", kApbClockPhandle);
  w.property_strings("clock-names", {"apb_pclk"});
  w.end_node();

  if (d.debug_exit) {
    w.begin_node(unit_name("debug-exit", d.debug_exit->base));
    w.property_strings("compatible", {kDebugExitCompatible});
    w.property("reg", reg(d.debug_exit->base, d.debug_exit->size));
    w.end_node();
  }

  // Edge-triggered: each device's interrupt is an irqfd, and the driver reads the cause from
  // InterruptStatus.
  for (const auto& v : d.virtio_mmio) {
    w.begin_node(unit_name("virtio_mmio", v.mmio.base));
    w.property_strings("compatible", {"virtio,mmio"});
    w.property("reg", reg(v.mmio.base, v.mmio.size));
    w.property("interrupts", spi(v.mmio.spi, kIrqEdgeRising));
    w.property_empty("dma-coherent");
    w.end_node();
  }
}

void write_pci(FdtWriter& w, const FdtPciHost& pci) {
  w.begin_node(unit_name("pcie", pci.ecam_base));
  w.property_strings("compatible", {"pci-host-ecam-generic"});
  w.property_strings("device_type", {"pci"});
  w.property_u32("#address-cells", 3);
  w.property_u32("#size-cells", 2);
  w.property_u32("#interrupt-cells", 1);
  w.property("reg", reg(pci.ecam_base, pci.ecam_size));
  w.property("bus-range",
             Cells().u32(0).u32(static_cast<uint32_t>(pci.ecam_size / kPciBusSize - 1)));
  w.property_u32("linux,pci-domain", 0);
  const bool below_4g = pci.mmio_base + pci.mmio_size <= k4GiB;
  Cells ranges;
  ranges.u32(below_4g ? kPciSpaceMem32 : kPciSpaceMem64)
      .u64(pci.mmio_base)
      .u64(pci.mmio_base)
      .u64(pci.mmio_size);
  w.property("ranges", ranges);
  Cells map;
  for (uint32_t dev = 0; dev < 4; ++dev) {
    for (uint32_t pin = 1; pin <= 4; ++pin) {
      // Child unit address (3 cells) and pin, then the GIC and its unit address (2 cells).
      map.u32(dev << kPciDeviceShift).u32(0).u32(0).u32(pin);
      map.u32(kGicPhandle).u32(0).u32(0);
      map.u32(kGicSpi).u32(pci.intx_spis.at((dev + pin - 1) % 4)).u32(kIrqLevelHigh);
    }
  }
  w.property("interrupt-map", map);
  w.property("interrupt-map-mask", Cells().u32(3U << kPciDeviceShift).u32(0).u32(0).u32(7));
  w.property_empty("dma-coherent");
  w.end_node();
}

std::vector<uint8_t> write_tree(const DeviceTreeDescription& d, std::size_t size) {
  FdtWriter w(size);
  w.begin_node("");
  w.property_strings("compatible", {"linux,dummy-virt"});
  w.property_strings("model", {"vmm"});
  w.property_u32("#address-cells", 2);
  w.property_u32("#size-cells", 2);
  w.property_u32("interrupt-parent", kGicPhandle);

  write_chosen(w, d);
  w.begin_node(unit_name("memory", d.ram_base));
  w.property_strings("device_type", {"memory"});
  w.property("reg", reg(d.ram_base, d.ram_size));
  w.end_node();
  write_cpus(w, d);
  w.begin_node("psci");
  // PSCI 0.2 and later have standard function IDs, so the node names none.
  w.property_strings("compatible", {"arm,psci-1.0", "arm,psci-0.2"});
  w.property_strings("method", {"hvc"});
  w.end_node();
  write_gic(w, d);
  write_timer(w);
  write_platform_devices(w, d);
  if (d.pci) write_pci(w, *d.pci);

  w.end_node();
  return std::move(w).finish();
}

}  // namespace

DeviceTreeDescription standard_device_tree(uint64_t ram_size, uint32_t vcpu_count) {
  if (ram_size > kRamMaxSize) {
    throw ConfigError(fmt::format("{} MiB of guest memory: an arm64 VM has at most {} GiB",
                                  ram_size / kMiB, kRamMaxSize / kGiB));
  }
  DeviceTreeDescription d;
  d.ram_base = kRamBase;
  d.ram_size = ram_size;
  d.vcpu_count = vcpu_count;
  d.gic = {kGicDistBase, kGicDistSize, kGicRedistBase, kGicRedistRegionSize};
  d.uart = {kUartBase, kUartSize, kUartSpi};
  d.uart_clock_hz = kUartClockHz;
  d.rtc = {kRtcBase, kRtcSize, kRtcSpi};
  d.apb_clock_hz = kApbClockHz;
  d.debug_exit = FdtMmioDevice{kDebugExitBase, kDebugExitSize, 0};
  d.pci = FdtPciHost{
      kPciEcamBase,
      kPciEcamSize,
      kPciMmioBase,
      kPciMmioSize,
      {kPciIntxFirstSpi, kPciIntxFirstSpi + 1, kPciIntxFirstSpi + 2, kPciIntxFirstSpi + 3}};
  return d;
}

FdtVirtioMmio virtio_mmio_slot(uint32_t slot, VirtioMmioKind kind) {
  if (slot >= kVirtioMmioSlots) {
    throw ConfigError(
        fmt::format("virtio-mmio slot {}: an arm64 VM has {} slots", slot, kVirtioMmioSlots));
  }
  return {{virtio_mmio_slot_base(slot), kVirtioMmioSize, virtio_mmio_slot_spi(slot)}, kind};
}

std::vector<uint8_t> build_device_tree(const DeviceTreeDescription& desc) {
  check_description(desc);
  for (std::size_t size = kInitialFdtSize; size <= kFdtMaxSize; size *= 2) {
    try {
      return write_tree(desc, size);
    } catch (const NoSpace&) {
    }
  }
  throw Error(fmt::format("device tree: does not fit in {} MiB", kFdtMaxSize / kMiB));
}

}  // namespace vmm::aarch64
