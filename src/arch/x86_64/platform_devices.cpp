#include "vmm/platform_devices.hpp"

#include "devices/legacy/acpi_power.hpp"
#include "devices/legacy/debug_exit.hpp"
#include "devices/legacy/i8042.hpp"
#include "devices/legacy/pvpanic.hpp"
#include "devices/legacy/rtc.hpp"
#include "vmm/host_console.hpp"
#include "vmm/kvm_irq_line.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::arch {

PlatformDevices add_platform_devices(DeviceManager& dm, const kvm::VmFd& vm, VmStopper& stopper,
                                     pci::PciRoot& pci, int serial_output_fd) {
  namespace layout = x86_64;
  PlatformDevices out;
  // Legacy platform devices, at the ports every PC has them.
  using Kind = PlatformDeviceKind;
  out.serial =
      std::make_shared<devices::Serial>(std::make_shared<KvmIrqLine>(vm, layout::kSerialCom1Irq),
                                        std::make_shared<FdOutput>(serial_output_fd));
  dm.add_port_device("com1", Kind::kSerial, out.serial, 0x3f8, devices::Serial::kPortCount,
                     layout::kSerialCom1Irq);
  auto i8042 = std::make_shared<devices::I8042>(stopper);
  dm.add_port_device("i8042-data", Kind::kI8042, i8042->data_port(), 0x60, 1, layout::kI8042KbdIrq);
  dm.add_port_device("i8042-command", Kind::kI8042, i8042->command_port(), 0x64, 1);
  dm.add_port_device("rtc", Kind::kRtc, std::make_shared<devices::Rtc>(), 0x70,
                     devices::Rtc::kPortCount, layout::kRtcIrq);
  dm.add_port_device("debug-exit", Kind::kDebugExit, std::make_shared<devices::DebugExit>(stopper),
                     devices::DebugExit::kDefaultPort, devices::DebugExit::kPortCount);
  dm.add_port_device("pvpanic", Kind::kPvPanic, std::make_shared<devices::PvPanic>(stopper),
                     devices::PvPanic::kDefaultPort, devices::PvPanic::kPortCount);
  dm.add_port_device("acpi-power", Kind::kAcpiPower,
                     std::make_shared<devices::AcpiPowerRegisters>(stopper), layout::kAcpiPowerPort,
                     devices::AcpiPowerRegisters::kPortCount);
  dm.add_resource_only("power-button", Kind::kPowerButton, layout::kPowerButtonIrq);
  out.power_button = std::make_unique<KvmEdgeIrqLine>(vm, layout::kPowerButtonIrq);
  dm.add_port_device("pci-config-address", Kind::kPciHost, pci.address_port(),
                     pci::kConfigAddressPort, 4);
  dm.add_port_device("pci-config-data", Kind::kPciHost, pci.data_port(), pci::kConfigDataPort, 4);
  return out;
}

}  // namespace vmm::arch
