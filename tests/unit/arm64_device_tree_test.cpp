#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libfdt.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "arch/aarch64/device_tree.hpp"
#include "arch/aarch64/memory_layout.hpp"
#include "support/run_command.hpp"
#include "vmm/common/error.hpp"

namespace vmm::aarch64 {
namespace {

namespace fs = std::filesystem;
using test::run_command;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// --- Reading a blob back with libfdt ---

int node(const std::vector<uint8_t>& blob, const std::string& path) {
  return fdt_path_offset(blob.data(), path.c_str());
}

// The raw value of `path`'s property `name`; fails the test when either is missing.
std::vector<uint8_t> raw(const std::vector<uint8_t>& blob, const std::string& path,
                         const char* name) {
  const int offset = node(blob, path);
  EXPECT_GE(offset, 0) << path << ": " << fdt_strerror(offset);
  if (offset < 0) return {};
  int len = 0;
  const void* value = fdt_getprop(blob.data(), offset, name, &len);
  EXPECT_NE(value, nullptr) << path << " has no " << name;
  if (value == nullptr) return {};
  const auto* bytes = static_cast<const uint8_t*>(value);
  return {bytes, bytes + len};
}

bool has_prop(const std::vector<uint8_t>& blob, const std::string& path, const char* name) {
  const int offset = node(blob, path);
  return offset >= 0 && fdt_getprop(blob.data(), offset, name, nullptr) != nullptr;
}

std::vector<uint32_t> cells(const std::vector<uint8_t>& blob, const std::string& path,
                            const char* name) {
  const auto bytes = raw(blob, path, name);
  EXPECT_EQ(bytes.size() % 4, 0U) << path << " " << name;
  std::vector<uint32_t> out;
  for (std::size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    out.push_back(uint32_t{bytes[i]} << 24 | uint32_t{bytes[i + 1]} << 16 |
                  uint32_t{bytes[i + 2]} << 8 | bytes[i + 3]);
  }
  return out;
}

// A string list, each entry without its NUL.
std::vector<std::string> strings(const std::vector<uint8_t>& blob, const std::string& path,
                                 const char* name) {
  const auto bytes = raw(blob, path, name);
  EXPECT_TRUE(!bytes.empty() && bytes.back() == 0) << path << " " << name << " not a string";
  std::vector<std::string> out;
  std::string current;
  for (const uint8_t b : bytes) {
    if (b == 0) {
      out.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(b));
    }
  }
  return out;
}

uint32_t hi(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
uint32_t lo(uint64_t v) { return static_cast<uint32_t>(v); }

int subnode_count(const std::vector<uint8_t>& blob, const std::string& path) {
  int count = 0;
  int child = 0;
  fdt_for_each_subnode(child, blob.data(), node(blob, path))++ count;
  return count;
}

// The platform of a typical VM: block, net and console over virtio-mmio.
DeviceTreeDescription typical(uint64_t ram_size, uint32_t vcpus, bool with_initrd) {
  auto d = standard_device_tree(ram_size, vcpus);
  d.virtio_mmio = {virtio_mmio_slot(0, VirtioMmioKind::kBlock),
                   virtio_mmio_slot(1, VirtioMmioKind::kNet),
                   virtio_mmio_slot(2, VirtioMmioKind::kConsole)};
  d.bootargs = "console=ttyS0 earlycon=uart,mmio,0x9000000 root=/dev/vda rw";
  if (with_initrd) {
    const uint64_t fdt = fdt_address(d.ram_base, d.ram_size);
    d.initrd = FdtInitrd{fdt - 5 * kMiB, 5 * kMiB - 123};
  }
  return d;
}

// A cell list as dtc writes it in a .dts: <0x00 0x80000000>.
std::string dts_cells(std::initializer_list<uint32_t> values) {
  std::string out = "<";
  for (const uint32_t v : values) {
    std::array<char, 16> buf{};
    std::snprintf(buf.data(), buf.size(), "0x%02x", v);
    out += (out.size() > 1 ? " " : "") + std::string(buf.data());
  }
  return out + ">";
}

// --- Decoding with dtc ---

class Arm64DeviceTreeDtc : public ::testing::TestWithParam<std::tuple<uint32_t, uint64_t, bool>> {
 protected:
  void SetUp() override {
    const auto found = run_command("command -v dtc");
    ASSERT_EQ(found.status, 0) << "dtc (the device tree compiler) is not installed; install "
                                  "device-tree-compiler (tests/install-deps.sh)";
    std::string tmpl = (fs::temp_directory_path() / "vmm-fdt-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // `blob` as dtc decompiles it; dtc must succeed and warn about nothing.
  std::string decompile(const std::vector<uint8_t>& blob) {
    const fs::path dtb = dir_ / "vm.dtb";
    const fs::path dts = dir_ / "vm.dts";
    {
      std::ofstream out(dtb, std::ios::binary);
      out.write(reinterpret_cast<const char*>(blob.data()),
                static_cast<std::streamsize>(blob.size()));
    }
    const auto r =
        run_command("dtc -I dtb -O dts -o '" + dts.string() + "' '" + dtb.string() + "'");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "") << "dtc complains about the blob";
    std::ifstream in(dts);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

TEST_P(Arm64DeviceTreeDtc, DecodesWithTheExpectedNodes) {
  const auto [vcpus, ram_size, with_initrd] = GetParam();
  const auto desc = typical(ram_size, vcpus, with_initrd);
  const auto blob = build_device_tree(desc);

  ASSERT_EQ(fdt_check_header(blob.data()), 0);
  EXPECT_EQ(fdt_totalsize(static_cast<const void*>(blob.data())), blob.size());
  EXPECT_LE(blob.size(), kFdtMaxSize);

  const std::string dts = decompile(blob);
  EXPECT_THAT(dts, HasSubstr("compatible = \"linux,dummy-virt\";"));
  EXPECT_THAT(dts, HasSubstr("memory@80000000 {"));
  EXPECT_THAT(dts, HasSubstr("intc@8000000 {"));
  EXPECT_THAT(dts, HasSubstr("serial@9000000 {"));
  EXPECT_THAT(dts, HasSubstr("rtc@9010000 {"));
  EXPECT_THAT(dts, HasSubstr("debug-exit@9020000 {"));
  EXPECT_THAT(dts, HasSubstr("virtio_mmio@a000000 {"));
  EXPECT_THAT(dts, HasSubstr("virtio_mmio@a001000 {"));
  EXPECT_THAT(dts, HasSubstr("virtio_mmio@a002000 {"));
  EXPECT_THAT(dts, HasSubstr("pcie@10000000 {"));
  EXPECT_EQ(dts.find("linux,initrd-start") != std::string::npos, with_initrd);
  // Values as dtc reads them: RAM, the redistributors for this many vCPUs, the initrd.
  EXPECT_THAT(dts, HasSubstr("reg = " + dts_cells({0, 0x8000'0000, hi(ram_size), lo(ram_size)})));
  EXPECT_THAT(dts, HasSubstr("reg = " + dts_cells({0, 0x0800'0000, 0, 0x1'0000, 0, 0x0c00'0000, 0,
                                                   vcpus * 0x2'0000})));
  EXPECT_THAT(dts, HasSubstr("cpu@" + std::to_string(vcpus - 1) + " {"));
  if (with_initrd) {
    const uint64_t end = desc.initrd->start + desc.initrd->size;
    EXPECT_THAT(dts, HasSubstr("linux,initrd-start = " +
                               dts_cells({hi(desc.initrd->start), lo(desc.initrd->start)})));
    EXPECT_THAT(dts, HasSubstr("linux,initrd-end = " + dts_cells({hi(end), lo(end)})));
  }

  // The root.
  EXPECT_THAT(cells(blob, "/", "#address-cells"), ElementsAre(2));
  EXPECT_THAT(cells(blob, "/", "#size-cells"), ElementsAre(2));
  EXPECT_THAT(cells(blob, "/", "interrupt-parent"), ElementsAre(kGicPhandle));

  // RAM.
  EXPECT_THAT(strings(blob, "/memory@80000000", "device_type"), ElementsAre("memory"));
  EXPECT_THAT(cells(blob, "/memory@80000000", "reg"),
              ElementsAre(0, 0x8000'0000, hi(ram_size), lo(ram_size)));

  // vCPUs: one node each, reg the MPIDR affinity, started through PSCI.
  EXPECT_EQ(subnode_count(blob, "/cpus"), static_cast<int>(vcpus));
  EXPECT_THAT(cells(blob, "/cpus", "#address-cells"), ElementsAre(1));
  EXPECT_THAT(cells(blob, "/cpus", "#size-cells"), ElementsAre(0));
  for (uint32_t i = 0; i < vcpus; ++i) {
    const std::string cpu = "/cpus/cpu@" + std::to_string(i);
    EXPECT_THAT(cells(blob, cpu, "reg"), ElementsAre(i));
    EXPECT_THAT(strings(blob, cpu, "compatible"), ElementsAre("arm,arm-v8"));
    EXPECT_THAT(strings(blob, cpu, "device_type"), ElementsAre("cpu"));
    EXPECT_THAT(strings(blob, cpu, "enable-method"), ElementsAre("psci"));
  }
  EXPECT_THAT(strings(blob, "/psci", "compatible"), ElementsAre("arm,psci-1.0", "arm,psci-0.2"));
  EXPECT_THAT(strings(blob, "/psci", "method"), ElementsAre("hvc"));

  // GICv3: the distributor and one 128 KiB redistributor per vCPU.
  const std::string gic = "/intc@8000000";
  EXPECT_THAT(strings(blob, gic, "compatible"), ElementsAre("arm,gic-v3"));
  EXPECT_THAT(cells(blob, gic, "#interrupt-cells"), ElementsAre(3));
  EXPECT_TRUE(has_prop(blob, gic, "interrupt-controller"));
  EXPECT_THAT(cells(blob, gic, "phandle"), ElementsAre(kGicPhandle));
  EXPECT_THAT(cells(blob, gic, "reg"),
              ElementsAre(0, 0x0800'0000, 0, 0x1'0000, 0, 0x0c00'0000, 0, vcpus * 0x2'0000));

  // The timer's four PPIs, level-high.
  EXPECT_THAT(strings(blob, "/timer", "compatible"), ElementsAre("arm,armv8-timer"));
  EXPECT_THAT(cells(blob, "/timer", "interrupts"),
              ElementsAre(1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4));
  EXPECT_TRUE(has_prop(blob, "/timer", "always-on"));

  // Serial, RTC and its clock, debug-exit.
  EXPECT_THAT(strings(blob, "/serial@9000000", "compatible"), ElementsAre("ns16550a"));
  EXPECT_THAT(cells(blob, "/serial@9000000", "reg"), ElementsAre(0, 0x0900'0000, 0, 0x1000));
  EXPECT_THAT(cells(blob, "/serial@9000000", "interrupts"), ElementsAre(0, kUartSpi, 4));
  EXPECT_THAT(cells(blob, "/serial@9000000", "clock-frequency"), ElementsAre(1'843'200));
  EXPECT_THAT(cells(blob, "/serial@9000000", "reg-shift"), ElementsAre(0));
  EXPECT_THAT(strings(blob, "/rtc@9010000", "compatible"),
              ElementsAre("arm,pl031", "arm,primecell"));
  EXPECT_THAT(cells(blob, "/rtc@9010000", "reg"), ElementsAre(0, 0x0901'0000, 0, 0x1000));
  EXPECT_THAT(cells(blob, "/rtc@9010000", "clocks"), ElementsAre(kApbClockPhandle));
  EXPECT_THAT(strings(blob, "/rtc@9010000", "clock-names"), ElementsAre("apb_pclk"));
  EXPECT_THAT(cells(blob, "/apb-pclk", "phandle"), ElementsAre(kApbClockPhandle));
  EXPECT_THAT(cells(blob, "/apb-pclk", "#clock-cells"), ElementsAre(0));
  EXPECT_THAT(strings(blob, "/debug-exit@9020000", "compatible"), ElementsAre("vmm,debug-exit"));
  EXPECT_THAT(cells(blob, "/debug-exit@9020000", "reg"), ElementsAre(0, 0x0902'0000, 0, 0x1000));

  // virtio-mmio: block, net, console in slots 0..2, edge-triggered SPIs 16..18.
  for (uint32_t slot = 0; slot < 3; ++slot) {
    std::ostringstream path;
    path << "/virtio_mmio@" << std::hex << 0x0a00'0000 + slot * 0x1000;
    EXPECT_THAT(strings(blob, path.str(), "compatible"), ElementsAre("virtio,mmio"));
    EXPECT_THAT(cells(blob, path.str(), "reg"),
                ElementsAre(0, 0x0a00'0000 + slot * 0x1000, 0, 0x1000));
    EXPECT_THAT(cells(blob, path.str(), "interrupts"), ElementsAre(0, 16 + slot, 1));
    EXPECT_TRUE(has_prop(blob, path.str(), "dma-coherent"));
  }

  // PCI: ECAM for 256 buses, the 32-bit window mapped 1:1, INTx swizzled over 4 SPIs.
  const std::string pci = "/pcie@10000000";
  EXPECT_THAT(strings(blob, pci, "compatible"), ElementsAre("pci-host-ecam-generic"));
  EXPECT_THAT(cells(blob, pci, "reg"), ElementsAre(0, 0x1000'0000, 0, 0x1000'0000));
  EXPECT_THAT(cells(blob, pci, "bus-range"), ElementsAre(0, 255));
  EXPECT_THAT(cells(blob, pci, "ranges"),
              ElementsAre(0x0200'0000, 0, 0x2000'0000, 0, 0x2000'0000, 0, 0x6000'0000));
  const auto map = cells(blob, pci, "interrupt-map");
  // Each entry: PCI address (3), pin, GIC phandle, GIC address (2), GIC specifier (3).
  constexpr std::size_t kEntryCells = 10;
  ASSERT_EQ(map.size(), 16 * kEntryCells);
  // Device 1, INTB: (1 + 2 - 1) % 4 = the third line.
  const std::size_t entry = (1 * 4 + 1) * kEntryCells;
  EXPECT_THAT(std::vector<uint32_t>(map.begin() + entry, map.begin() + entry + kEntryCells),
              ElementsAre(1U << 11, 0, 0, 2, kGicPhandle, 0, 0, 0, kPciIntxFirstSpi + 2, 4));
  EXPECT_THAT(cells(blob, pci, "interrupt-map-mask"), ElementsAre(0x1800, 0, 0, 7));

  // /chosen.
  EXPECT_THAT(strings(blob, "/chosen", "bootargs"), ElementsAre(desc.bootargs));
  EXPECT_THAT(strings(blob, "/chosen", "stdout-path"), ElementsAre("/serial@9000000"));
  if (with_initrd) {
    const uint64_t start = desc.initrd->start;
    const uint64_t end = start + desc.initrd->size;
    EXPECT_THAT(cells(blob, "/chosen", "linux,initrd-start"), ElementsAre(hi(start), lo(start)));
    EXPECT_THAT(cells(blob, "/chosen", "linux,initrd-end"), ElementsAre(hi(end), lo(end)));
    // Just below the device tree, at the end of RAM.
    EXPECT_EQ(end, fdt_address(kRamBase, ram_size) - 123);
  } else {
    EXPECT_FALSE(has_prop(blob, "/chosen", "linux,initrd-start"));
    EXPECT_FALSE(has_prop(blob, "/chosen", "linux,initrd-end"));
  }
}

INSTANTIATE_TEST_SUITE_P(Arm64Platforms, Arm64DeviceTreeDtc,
                         ::testing::Combine(::testing::Values(1U, 4U),
                                            ::testing::Values(256 * kMiB, 3 * kGiB),
                                            ::testing::Bool()));

TEST_F(Arm64DeviceTreeDtc, HoldsTheMostVcpusAndEveryVirtioSlot) {
  auto d = standard_device_tree(kGiB, kMaxVcpus);
  for (uint32_t slot = 0; slot < kVirtioMmioSlots; ++slot) {
    d.virtio_mmio.push_back(virtio_mmio_slot(slot, VirtioMmioKind::kBlock));
  }
  const auto blob = build_device_tree(d);
  (void)decompile(blob);
  EXPECT_EQ(subnode_count(blob, "/cpus"), static_cast<int>(kMaxVcpus));
  // vCPU 17 is cluster 1, core 1; the last one, cluster 15, core 15.
  EXPECT_THAT(cells(blob, "/cpus/cpu@101", "reg"), ElementsAre(0x101));
  EXPECT_THAT(cells(blob, "/cpus/cpu@f0f", "reg"), ElementsAre(0xf0f));
  EXPECT_THAT(cells(blob, "/intc@8000000", "reg"),
              ElementsAre(0, 0x0800'0000, 0, 0x1'0000, 0, 0x0c00'0000, 0, 32 * kMiB));
  EXPECT_THAT(cells(blob, "/virtio_mmio@a01f000", "interrupts"), ElementsAre(0, 47, 1));
}

// --- The layout ---

TEST(Arm64Layout, MpidrAffinityFollowsKvm) {
  EXPECT_EQ(mpidr_affinity(0), 0U);
  EXPECT_EQ(mpidr_affinity(15), 0xfU);
  EXPECT_EQ(mpidr_affinity(16), 0x100U);
  EXPECT_EQ(mpidr_affinity(4095), 0xff0fU);
  EXPECT_EQ(mpidr_affinity(4096), 0x1'0000U);
}

TEST(Arm64Layout, DeviceTreeTakesTheLastWhole2MiBBlockOfRam) {
  EXPECT_EQ(fdt_address(kRamBase, 256 * kMiB), 0x8fe0'0000U);
  EXPECT_EQ(fdt_address(kRamBase, 3 * kGiB), 0x1'3fe0'0000U);
  EXPECT_EQ(fdt_address(kRamBase, 256 * kMiB + kMiB), 0x8fe0'0000U);
}

TEST(Arm64Layout, DevicesSitBelowRam) {
  EXPECT_LE(kGicRedistBase + kGicRedistRegionSize, kPciEcamBase);
  EXPECT_LE(virtio_mmio_slot_base(kVirtioMmioSlots), kGicRedistBase);
  EXPECT_LE(kPciMmioBase + kPciMmioSize, kRamBase);
  EXPECT_EQ(kMaxVcpus, 256U);
  EXPECT_LE(virtio_mmio_slot_spi(kVirtioMmioSlots - 1), kMaxSpi);
}

// --- Descriptions the builder refuses ---

std::string build_error(const DeviceTreeDescription& d) {
  try {
    (void)build_device_tree(d);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool is_config_error(const DeviceTreeDescription& d) {
  try {
    (void)build_device_tree(d);
  } catch (const ConfigError&) {
    return true;
  } catch (const Error&) {
  }
  return false;
}

TEST(Arm64DeviceTree, BlobPassesLibfdtChecks) {
  const auto blob = build_device_tree(typical(256 * kMiB, 2, true));
  ASSERT_EQ(fdt_check_header(blob.data()), 0);
  EXPECT_GE(node(blob, "/chosen"), 0);
  EXPECT_GE(node(blob, "/cpus/cpu@1"), 0);
  EXPECT_EQ(node(blob, "/cpus/cpu@2"), -FDT_ERR_NOTFOUND);
  EXPECT_EQ(fdt_node_offset_by_phandle(blob.data(), kGicPhandle), node(blob, "/intc@8000000"));
  EXPECT_EQ(fdt_node_offset_by_phandle(blob.data(), kApbClockPhandle), node(blob, "/apb-pclk"));
  EXPECT_EQ(fdt_num_mem_rsv(blob.data()), 0);
}

TEST(Arm64DeviceTree, PciAndDebugExitAreOptional) {
  auto d = typical(256 * kMiB, 1, false);
  d.pci.reset();
  d.debug_exit.reset();
  const auto blob = build_device_tree(d);
  EXPECT_EQ(node(blob, "/pcie@10000000"), -FDT_ERR_NOTFOUND);
  EXPECT_EQ(node(blob, "/debug-exit@9020000"), -FDT_ERR_NOTFOUND);
  EXPECT_GE(node(blob, "/virtio_mmio@a000000"), 0);
}

TEST(Arm64DeviceTree, PciWindowAbove4GiBIs64Bit) {
  auto d = typical(256 * kMiB, 1, false);
  d.pci->mmio_base = 0x80'0000'0000;
  d.pci->mmio_size = 0x10'0000'0000;
  d.pci->ecam_size = 16 * kMiB;
  const auto blob = build_device_tree(d);
  EXPECT_THAT(cells(blob, "/pcie@10000000", "ranges"),
              ElementsAre(0x0300'0000, 0x80, 0, 0x80, 0, 0x10, 0));
  EXPECT_THAT(cells(blob, "/pcie@10000000", "bus-range"), ElementsAre(0, 15));
}

TEST(Arm64DeviceTree, RefusesVcpuCountsTheGicCannotHold) {
  auto d = typical(256 * kMiB, 0, false);
  EXPECT_TRUE(is_config_error(d));
  EXPECT_THAT(build_error(d), HasSubstr("0 vCPUs: an arm64 VM has 1 to 256"));
  d.vcpu_count = kMaxVcpus + 1;
  EXPECT_TRUE(is_config_error(d));
  d.vcpu_count = kMaxVcpus;
  EXPECT_EQ(build_error(d), "");
}

TEST(Arm64DeviceTree, RefusesAnInitrdOutsideRam) {
  auto d = typical(256 * kMiB, 1, false);
  d.initrd = FdtInitrd{kRamBase + 256 * kMiB - 4096, 4097};
  EXPECT_TRUE(is_config_error(d));
  EXPECT_THAT(build_error(d), HasSubstr("initrd"));
  d.initrd = FdtInitrd{kRamBase - 4096, 4096};
  EXPECT_TRUE(is_config_error(d));
  d.initrd = FdtInitrd{~0ULL - 10, 100};  // wraps
  EXPECT_TRUE(is_config_error(d));
  d.initrd = FdtInitrd{kRamBase, 0};
  EXPECT_TRUE(is_config_error(d));
  d.initrd = FdtInitrd{kRamBase + 256 * kMiB - 4096, 4096};
  EXPECT_EQ(build_error(d), "");
}

TEST(Arm64DeviceTree, RefusesABadCommandLine) {
  auto d = typical(256 * kMiB, 1, false);
  d.bootargs = std::string(kMaxBootargsSize - 1, 'x');
  EXPECT_EQ(build_error(d), "");
  d.bootargs.push_back('x');
  EXPECT_TRUE(is_config_error(d));
  EXPECT_THAT(build_error(d), HasSubstr("at most 2047"));
  d.bootargs = std::string("console=ttyS0\0init=/bin/sh", 26);
  EXPECT_THAT(build_error(d), HasSubstr("NUL"));
}

TEST(Arm64DeviceTree, RefusesRamBeyondTheAddressSpace) {
  EXPECT_THROW((void)standard_device_tree(kRamMaxSize + 1, 1), ConfigError);
  EXPECT_NO_THROW((void)standard_device_tree(kRamMaxSize, 1));
  auto d = typical(256 * kMiB, 1, false);
  d.ram_size = 0;
  EXPECT_TRUE(is_config_error(d));
  d.ram_size = ~0ULL;
  EXPECT_TRUE(is_config_error(d));
}

TEST(Arm64DeviceTree, RefusesOverlappingWindows) {
  auto d = typical(256 * kMiB, 1, false);
  d.virtio_mmio.push_back({{kUartBase + 0x800, 0x1000, 40}, VirtioMmioKind::kOther});
  EXPECT_THAT(build_error(d), HasSubstr("overlaps"));
  EXPECT_FALSE(is_config_error(d));

  d = typical(256 * kMiB, 1, false);
  d.pci->mmio_size = 0x6000'0000 + 4096;  // into RAM
  EXPECT_THAT(build_error(d), HasSubstr("overlaps"));

  d = typical(256 * kMiB, 1, false);
  d.rtc.size = 0;
  EXPECT_THAT(build_error(d), HasSubstr("RTC"));

  d = typical(256 * kMiB, 1, false);
  d.uart.base = kIpaLimit - 4096;
  d.uart.size = 8192;
  EXPECT_THAT(build_error(d), HasSubstr("UART"));
}

TEST(Arm64DeviceTree, RefusesSharedOrOutOfRangeInterrupts) {
  auto d = typical(256 * kMiB, 1, false);
  d.virtio_mmio[1].mmio.spi = d.virtio_mmio[0].mmio.spi;
  EXPECT_THAT(build_error(d), HasSubstr("already taken"));

  d = typical(256 * kMiB, 1, false);
  d.pci->intx_spis[3] = kUartSpi;
  EXPECT_THAT(build_error(d), HasSubstr("PCI INTx SPI 0 is already taken"));

  // INTx lines may share among themselves.
  d = typical(256 * kMiB, 1, false);
  d.pci->intx_spis = {4, 4, 5, 5};
  EXPECT_EQ(build_error(d), "");

  d = typical(256 * kMiB, 1, false);
  d.virtio_mmio[0].mmio.spi = kMaxSpi + 1;
  EXPECT_THAT(build_error(d), HasSubstr("above the GIC's last SPI"));
}

TEST(Arm64DeviceTree, RefusesAnEcamThatIsNotWholeBuses) {
  auto d = typical(256 * kMiB, 1, false);
  d.pci->ecam_size = kMiB + 4096;
  EXPECT_THAT(build_error(d), HasSubstr("ECAM"));
  d.pci->ecam_size = 512 * kMiB;
  EXPECT_THAT(build_error(d), HasSubstr("ECAM"));
}

TEST(Arm64DeviceTree, VirtioSlotsEndAtThirtyTwo) {
  EXPECT_EQ(virtio_mmio_slot(31, VirtioMmioKind::kNet).mmio.base, 0x0a01'f000U);
  EXPECT_THROW((void)virtio_mmio_slot(32, VirtioMmioKind::kNet), ConfigError);
}

}  // namespace
}  // namespace vmm::aarch64
