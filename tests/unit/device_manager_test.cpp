// The device manager places devices on the buses through its allocator and derives the
// firmware tables' view (ACPI platform, MP routes) from the same inventory.
#include "vmm/device_manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "arch/x86_64/platform_tables.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm {
namespace {

class NullDevice final : public BusDevice {
 public:
  void read(uint64_t /*offset*/, std::span<uint8_t> data) override {
    std::fill(data.begin(), data.end(), uint8_t{0x5a});
  }
  void write(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) override {}
};

class DeviceManagerTest : public ::testing::Test {
 protected:
  Bus pio{"pio"};
  Bus mmio{"mmio"};
  DeviceManager dm{pio, mmio};
  std::shared_ptr<NullDevice> dev = std::make_shared<NullDevice>();
};

TEST_F(DeviceManagerTest, MmioDevicesLandOnTheBusWithTheirLineAndClashesAreRefused) {
  dm.add_mmio_device("uart", PlatformDeviceKind::kSerial, dev, 0x0900'0000, 8,
                     x86_64::kVirtioMmioIrqs[0]);
  std::array<uint8_t, 1> b{};
  EXPECT_TRUE(mmio.read(0x0900'0007, b));
  EXPECT_EQ(b[0], 0x5a);
  EXPECT_FALSE(mmio.read(0x0900'0008, b)) << "the window is 8 bytes";
  EXPECT_THROW(dm.add_mmio_device("clash", PlatformDeviceKind::kRtc, dev, 0x0900'0004, 4), Error);
  ASSERT_EQ(dm.inventory().size(), 1u);
  const PlatformDevice& uart = dm.inventory().front();
  EXPECT_EQ(uart.mmio_base, 0x0900'0000u);
  EXPECT_EQ(uart.mmio_size, 8u);
  EXPECT_EQ(uart.gsi, x86_64::kVirtioMmioIrqs[0]);
  // The line is taken: the first virtio-mmio device gets the next one.
  EXPECT_EQ(dm.allocate_virtio_mmio("vda").gsi, x86_64::kVirtioMmioIrqs[1]);
}

TEST_F(DeviceManagerTest, PortDevicesLandOnTheBusAndClashesAreRefused) {
  dm.add_port_device("com1", PlatformDeviceKind::kSerial, dev, 0x3f8, 8, 4);
  std::array<uint8_t, 1> b{};
  EXPECT_TRUE(pio.read(0x3f9, b));
  EXPECT_EQ(b[0], 0x5a);
  EXPECT_THROW(dm.add_port_device("clash", PlatformDeviceKind::kRtc, dev, 0x3fc, 2),
               Error);  // port overlap
  EXPECT_THROW(dm.add_port_device("irq-clash", PlatformDeviceKind::kRtc, dev, 0x70, 2, 4),
               Error);  // line 4 is COM1's
  EXPECT_THROW(dm.add_resource_only("pit-line", PlatformDeviceKind::kPowerButton, 2), Error);
  ASSERT_EQ(dm.inventory().size(), 1u);
}

TEST_F(DeviceManagerTest, VirtioMmioWindowsAndLinesComeFromTheAllocator) {
  for (int i = 0; i < 8; ++i) {
    const std::string id = "mmio" + std::to_string(i);
    const auto placed = dm.allocate_virtio_mmio(id);
    EXPECT_EQ(placed.base, x86_64::kVirtioMmioStart + static_cast<uint64_t>(i) * 0x1000);
    EXPECT_EQ(placed.gsi, x86_64::kVirtioMmioIrqs[static_cast<size_t>(i)]);
    dm.add_virtio_mmio(id, placed, dev, 0x200);
  }
  EXPECT_THROW((void)dm.allocate_virtio_mmio("one-too-many"), ConfigError);
  const auto acpi = x86_64::acpi_platform(dm.inventory(), 2);
  ASSERT_EQ(acpi.virtio_mmio.size(), 8u);
  EXPECT_EQ(acpi.virtio_mmio[1].base, x86_64::kVirtioMmioStart + 0x1000);
  EXPECT_EQ(acpi.virtio_mmio[1].gsi, x86_64::kVirtioMmioIrqs[1]);
}

TEST_F(DeviceManagerTest, AcpiAndMpViewsMatchTheInventory) {
  dm.add_port_device("com1", PlatformDeviceKind::kSerial, dev, 0x3f8, 8, 4);
  dm.add_port_device("i8042-data", PlatformDeviceKind::kI8042, dev, 0x60, 1, 1);
  dm.add_port_device("i8042-command", PlatformDeviceKind::kI8042, dev, 0x64, 1);
  dm.add_port_device("pvpanic", PlatformDeviceKind::kPvPanic, dev, 0x505, 1);
  dm.add_port_device("acpi-power", PlatformDeviceKind::kAcpiPower, dev, 0x600, 3);
  dm.add_resource_only("power-button", PlatformDeviceKind::kPowerButton, 13);
  dm.add_port_device("pci-config-address", PlatformDeviceKind::kPciHost, dev, 0xcf8, 4);
  const auto placement = dm.allocate_pci_slot("disk0");
  EXPECT_EQ(placement.slot, 1);
  EXPECT_EQ(placement.gsi, x86_64::kPciIntxFirstPin);
  dm.record_pci_device("disk0", placement);
  const auto second = dm.allocate_pci_slot("net0");
  EXPECT_EQ(second.slot, 2);
  EXPECT_EQ(second.gsi, x86_64::kPciIntxFirstPin + 1);
  dm.record_pci_device("net0", second);

  const auto acpi = x86_64::acpi_platform(dm.inventory(), 4);
  EXPECT_EQ(acpi.cpu_count, 4u);
  EXPECT_EQ(acpi.ioapic_id, 4);
  EXPECT_TRUE(acpi.isa_overrides.empty());  // GSI n is IOAPIC pin n under KVM
  auto named = [&](const std::string& name) -> const x86_64::AcpiIsaDevice* {
    for (const auto& d : acpi.isa_devices) {
      if (d.name == name) return &d;
    }
    return nullptr;
  };
  ASSERT_NE(named("COM1"), nullptr);
  EXPECT_EQ(named("COM1")->io[0].base, 0x3f8);
  EXPECT_EQ(named("COM1")->irq, 4);
  ASSERT_NE(named("KBD_"), nullptr);
  EXPECT_EQ(named("KBD_")->io.size(), 2u);  // 0x60 and 0x64 in one device
  EXPECT_EQ(named("KBD_")->irq, 1);
  ASSERT_NE(named("PEVT"), nullptr);
  EXPECT_EQ(named("PEVT")->hid, "QEMU0001");
  EXPECT_EQ(acpi.pm.sleep_control_port, 0x600);
  EXPECT_EQ(acpi.pm.sleep_status_port, 0x601);
  EXPECT_EQ(acpi.pm.reset_port, 0x602);
  EXPECT_EQ(acpi.power_button_gsi, 13u);
  ASSERT_TRUE(acpi.pci.has_value());
  EXPECT_EQ(acpi.pci->mmio_base, x86_64::kPciMmioStart);
  // _PRT agrees with where the devices' INTA# really goes.
  for (const auto& route : acpi.pci->routes) {
    if (route.slot == 2 && route.pin == 0) {
      EXPECT_EQ(route.gsi, second.gsi);
    }
  }
  const auto mp = x86_64::mp_pci_interrupts(dm.inventory());
  ASSERT_EQ(mp.size(), 2u);
  EXPECT_EQ(mp[1].device, 2);
  EXPECT_EQ(mp[1].ioapic_pin, second.gsi);
}

}  // namespace
}  // namespace vmm
