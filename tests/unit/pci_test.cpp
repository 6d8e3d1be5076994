#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>

#include "devices/pci/msix.hpp"
#include "devices/pci/pci_config_space.hpp"
#include "devices/pci/pci_root.hpp"
#include "support/fake_msi_router.hpp"
#include "support/recording_stopper.hpp"

namespace vmm::pci {
namespace {

using test::RecordingStopper;

using test::FakeMsiRouter;
using FakeRouter = FakeMsiRouter;

constexpr PciId kTestId{.vendor = 0x1af4,
                        .device = 0x1042,
                        .class_code = 0x01,
                        .subclass = 0x00,
                        .prog_if = 0,
                        .revision = 1,
                        .subsystem_vendor = 0x1af4,
                        .subsystem = 0x40};

class TestDevice final : public PciDevice {
 public:
  TestDevice() : config_(kTestId) { config_.add_memory_bar(0, 0x4000); }
  PciConfigSpace& config() override { return config_; }
  void bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) override {
    last_bar = bar;
    last_offset = offset;
    std::fill(data.begin(), data.end(), 0xab);
  }
  void bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t>) override {
    last_bar = bar;
    last_offset = offset;
  }
  void bar_mapped(uint8_t, uint64_t address) override { mapped_at = address; }
  PciConfigSpace config_;
  int last_bar = -1;
  uint64_t last_offset = 0;
  uint64_t mapped_at = 0;
};

uint32_t read32(const PciConfigSpace& c, uint16_t off) {
  std::array<uint8_t, 4> b{};
  c.read(off, b);
  uint32_t v = 0;
  std::memcpy(&v, b.data(), 4);
  return v;
}
void write32(PciConfigSpace& c, uint16_t off, uint32_t v) {
  std::array<uint8_t, 4> b{};
  std::memcpy(b.data(), &v, 4);
  c.write(off, b);
}

TEST(PciConfigSpace, IdentityIsReadOnly) {
  PciConfigSpace c(kTestId);
  EXPECT_EQ(read32(c, 0), 0x10421af4u);
  write32(c, 0, 0);
  EXPECT_EQ(read32(c, 0), 0x10421af4u);
  EXPECT_EQ(read32(c, 8) >> 8, 0x010000u);  // class code
}

TEST(PciConfigSpace, BarSizing) {
  PciConfigSpace c(kTestId);
  c.add_memory_bar(0, 0x4000);
  c.set_bar_address(0, 0xe0000000);
  EXPECT_EQ(read32(c, kBar0), 0xe0000000u);
  write32(c, kBar0, 0xffffffff);
  EXPECT_EQ(read32(c, kBar0), 0xffffc000u);  // size mask: 16 KiB
  write32(c, kBar0 + 4, 0xffffffff);         // BAR1 does not exist
  EXPECT_EQ(read32(c, kBar0 + 4), 0u);
}

TEST(PciConfigSpace, CapabilityListIsLinked) {
  PciConfigSpace c(kTestId);
  const std::array<uint8_t, 4> a{0x09, 0, 1, 2};
  const std::array<uint8_t, 8> b{0x11, 0, 3, 4, 5, 6, 7, 8};
  const uint8_t first = c.add_capability(a);
  const uint8_t second = c.add_capability(b);
  EXPECT_NE(c.load16(kStatus) & kStatusCapabilities, 0);
  EXPECT_EQ(read32(c, kCapabilitiesPointer) & 0xff, first);
  EXPECT_EQ((read32(c, first) >> 8) & 0xff, second);
  EXPECT_EQ((read32(c, second) >> 8) & 0xff, 0u);
}

TEST(PciConfigSpace, OutOfRangeAccessIsHarmless) {
  PciConfigSpace c(kTestId);
  std::array<uint8_t, 4> b{};
  c.read(254, b);
  EXPECT_EQ(b, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
  c.write(0xfffe, b);
}

class PciRootTest : public ::testing::Test {
 protected:
  void select(uint8_t slot, uint8_t reg) {
    const uint32_t addr = 0x80000000U | (uint32_t{slot} << 11) | reg;
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &addr, 4);
    pio.write(kConfigAddressPort, b);
  }
  uint32_t config_read(uint8_t slot, uint8_t reg) {
    select(slot, reg);
    std::array<uint8_t, 4> b{};
    pio.read(kConfigDataPort, b);
    uint32_t v = 0;
    std::memcpy(&v, b.data(), 4);
    return v;
  }
  void config_write(uint8_t slot, uint8_t reg, uint32_t v) {
    select(slot, reg);
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &v, 4);
    pio.write(kConfigDataPort, b);
  }
  Bus pio{"pio"};
  Bus mmio{"mmio"};
  RecordingStopper stopper;
  PciRoot root{mmio, 0xe0000000, 0xfec00000, stopper};
  void SetUp() override {
    pio.insert(root.address_port(), kConfigAddressPort, 4);
    pio.insert(root.data_port(), kConfigDataPort, 4);
  }
};

TEST_F(PciRootTest, HostBridgeAndEmptySlots) {
  EXPECT_EQ(config_read(0, 0) & 0xffff, 0x8086u);
  EXPECT_EQ(config_read(0, 8) >> 24, 0x06u);
  EXPECT_EQ(config_read(5, 0), 0xffffffffu);
}

TEST_F(PciRootTest, DeviceBarIsMappedAndFollowsTheGuest) {
  auto dev = std::make_shared<TestDevice>();
  const uint8_t slot = root.add_device(dev);
  EXPECT_EQ(slot, 1);
  const uint32_t bar = config_read(slot, kBar0);
  EXPECT_EQ(bar, 0xe0000000u);
  EXPECT_EQ(dev->mapped_at, 0xe0000000u);
  std::array<uint8_t, 4> b{};
  EXPECT_TRUE(mmio.read(0xe0000010, b));
  EXPECT_EQ(dev->last_offset, 0x10u);
  // Sizing with decode off, then a move to a new address with decode back on.
  config_write(slot, kCommand, 0);
  EXPECT_FALSE(mmio.read(0xe0000010, b));
  config_write(slot, kBar0, 0xffffffff);
  EXPECT_EQ(config_read(slot, kBar0), 0xffffc000u);
  config_write(slot, kBar0, 0xe0100000);
  config_write(slot, kCommand, kCommandMemorySpace);
  EXPECT_FALSE(mmio.read(0xe0000010, b));
  EXPECT_TRUE(mmio.read(0xe0100010, b));
  EXPECT_EQ(dev->mapped_at, 0xe0100000u);
}

TEST_F(PciRootTest, ResetControlRegisterResetsTheVm) {
  std::array<uint8_t, 1> b{0x6};
  pio.write(kConfigAddressPort + 1, b);
  ASSERT_EQ(stopper.requests().size(), 1u);
  EXPECT_EQ(stopper.requests()[0].reason, StopReason::kGuestReset);
}

// ECAM reaches the same registers as the ports; what lies outside bus 0's devices, or runs
// past a function's space, reads as all-ones.
class PciEcamTest : public PciRootTest {
 protected:
  static constexpr uint64_t kEcamBase = 0x1000'0000;
  static constexpr uint64_t kEcamBuses = 4;
  void SetUp() override {
    PciRootTest::SetUp();
    mmio.insert(root.ecam(), kEcamBase, kEcamBuses * kEcamBusSize);
  }
  static uint64_t at(uint64_t bus, uint64_t dev, uint64_t fn, uint64_t reg) {
    return kEcamBase + bus * kEcamBusSize + dev * 8 * kEcamFunctionSize + fn * kEcamFunctionSize +
           reg;
  }
  uint32_t ecam_read(uint64_t addr, size_t size = 4) {
    std::array<uint8_t, 4> b{};
    EXPECT_TRUE(mmio.read(addr, std::span(b).first(size)));
    uint32_t v = 0;
    std::memcpy(&v, b.data(), size);
    return v;
  }
  void ecam_write(uint64_t addr, uint32_t v) {
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &v, 4);
    EXPECT_TRUE(mmio.write(addr, b));
  }
};

TEST_F(PciEcamTest, SameRegistersAsThePorts) {
  EXPECT_EQ(ecam_read(at(0, 0, 0, 0)), config_read(0, 0));
  EXPECT_EQ(ecam_read(at(0, 0, 0, 8)), config_read(0, 8));
  EXPECT_EQ(ecam_read(at(0, 0, 0, 2), 2), config_read(0, 0) >> 16);
  auto dev = std::make_shared<TestDevice>();
  const uint8_t slot = root.add_device(dev);
  EXPECT_EQ(ecam_read(at(0, slot, 0, kBar0)), config_read(slot, kBar0));
  // A BAR moved through ECAM moves the mapping, as through the ports.
  ecam_write(at(0, slot, 0, kCommand), 0);
  ecam_write(at(0, slot, 0, kBar0), 0xe0200000);
  ecam_write(at(0, slot, 0, kCommand), kCommandMemorySpace);
  EXPECT_EQ(config_read(slot, kBar0), 0xe0200000u);
  EXPECT_EQ(dev->mapped_at, 0xe0200000u);
}

TEST_F(PciEcamTest, NothingElseAnswers) {
  EXPECT_EQ(ecam_read(at(0, 5, 0, 0)), 0xffffffffu);  // empty slot
  EXPECT_EQ(ecam_read(at(0, 0, 1, 0)), 0xffffffffu);  // function 1
  EXPECT_EQ(ecam_read(at(1, 0, 0, 0)), 0xffffffffu);  // bus 1
  EXPECT_EQ(ecam_read(at(3, 31, 7, 0xffc)), 0xffffffffu);
  EXPECT_EQ(ecam_read(at(0, 0, 0, 0x100)), 0xffffffffu);  // extended space: none
  EXPECT_EQ(ecam_read(at(0, 0, 0, 0xfe)), 0xffffffffu);   // runs past the 256 bytes: none
  ecam_write(at(1, 0, 0, kCommand), 0xffff);              // ignored, no crash
  EXPECT_EQ(config_read(0, 0) & 0xffff, 0x8086u);
}

TEST_F(PciRootTest, DisabledAddressReadsAllOnes) {
  std::array<uint8_t, 4> b{};
  pio.write(kConfigAddressPort, b);  // enable bit clear
  pio.read(kConfigDataPort, b);
  EXPECT_EQ(b, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
}

TEST(Msix, MaskPendingAndDelivery) {
  FakeRouter router;
  Msix msix(router, 3, 0, 0x4000, 0x5000);
  PciConfigSpace config(kTestId);
  msix.add_capability(config);
  const uint8_t cap = static_cast<uint8_t>(read32(config, kCapabilitiesPointer));
  EXPECT_EQ(read32(config, cap) & 0xff, 0x11u);
  EXPECT_EQ((read32(config, cap) >> 16) & 0x7ff, 2u);  // table size - 1
  EXPECT_EQ(read32(config, cap + 4), 0x4000u);

  EXPECT_FALSE(msix.notify(0));       // disabled: the caller falls back to INTx
  write32(config, cap, 0x80000000U);  // enable
  msix.config_written(config);
  EXPECT_TRUE(msix.enabled());

  // Vector 1: program address/data, still masked -> pending, not fired.
  const std::array<uint8_t, 4> addr{0x00, 0x00, 0xe0, 0xfe};
  msix.table_write(16 + 0, addr);
  const std::array<uint8_t, 4> data{0x41, 0, 0, 0};
  msix.table_write(16 + 8, data);
  EXPECT_TRUE(msix.notify(1));
  const uint32_t route = router.routes.begin()->first + 1;
  EXPECT_EQ(router.fired[route], 0);
  std::array<uint8_t, 8> pba{};
  msix.pba_read(0, pba);
  EXPECT_EQ(pba[0], 0x2);
  // Unmask: the pending interrupt fires once, with the programmed route.
  const std::array<uint8_t, 4> unmask{0, 0, 0, 0};
  msix.table_write(16 + 12, unmask);
  EXPECT_EQ(router.fired[route], 1);
  EXPECT_EQ(router.routes[route].address, 0xfee00000u);
  EXPECT_EQ(router.routes[route].data, 0x41u);
  EXPECT_TRUE(router.routes[route].enabled);
  EXPECT_TRUE(msix.notify(1));
  EXPECT_EQ(router.fired[route], 2);
  // Out-of-range vectors and misaligned or odd-sized table accesses are ignored.
  EXPECT_TRUE(msix.notify(0xffff));
  msix.table_write(3 * 16, unmask);
  msix.table_write(17, unmask);
  std::array<uint8_t, 2> two{};
  msix.table_read(0, two);
  EXPECT_EQ(two, (std::array<uint8_t, 2>{0xff, 0xff}));
  // Function mask holds everything back.
  write32(config, cap, 0xc0000000U);
  msix.config_written(config);
  EXPECT_TRUE(msix.notify(1));
  EXPECT_EQ(router.fired[route], 2);
  write32(config, cap, 0x80000000U);
  msix.config_written(config);
  EXPECT_EQ(router.fired[route], 3);
}

TEST(Msix, VectorEventfdIsTheRoutesWhileMsixIsEnabled) {
  FakeRouter router;
  Msix msix(router, 3, 0, 0x4000, 0x5000);
  PciConfigSpace config(kTestId);
  msix.add_capability(config);
  const uint8_t cap = static_cast<uint8_t>(read32(config, kCapabilitiesPointer));
  EXPECT_EQ(msix.vector_eventfd(1), -1) << "MSI-X off: no irqfd, the transport uses INTx";
  write32(config, cap, 0x80000000U);
  msix.config_written(config);
  const uint32_t first = router.routes.begin()->first;
  EXPECT_EQ(msix.vector_eventfd(0), static_cast<int>(1000 + first));
  EXPECT_EQ(msix.vector_eventfd(2), static_cast<int>(1000 + first + 2));
  EXPECT_EQ(msix.vector_eventfd(3), -1);
  EXPECT_EQ(msix.vector_eventfd(0xffff), -1) << "virtio's no-vector";
  msix.reset();
  EXPECT_EQ(msix.vector_eventfd(0), -1);
}

}  // namespace
}  // namespace vmm::pci
