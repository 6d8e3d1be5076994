// arm64's platform devices (vmm/platform_devices.hpp), at memory_layout.hpp's places and on the
// lines the device tree gives them: the 16550A with byte registers, the PL031 clock and the
// debug-exit register. Built with the VM layer on arm64 hosts only.
#include "vmm/platform_devices.hpp"

#include <ctime>

#include "arch/aarch64/kvm_abi.hpp"
#include "arch/aarch64/memory_layout.hpp"
#include "devices/legacy/debug_exit.hpp"
#include "devices/legacy/pl031_rtc.hpp"
#include "vmm/host_console.hpp"
#include "vmm/kvm_irq_line.hpp"

namespace vmm::arch {

PlatformDevices add_platform_devices(DeviceManager& dm, const kvm::VmFd& vm, VmStopper& stopper,
                                     pci::PciRoot& /*pci*/, int serial_output_fd) {
  using Kind = PlatformDeviceKind;
  PlatformDevices out;
  // KVM_IRQ_LINE takes an SPI with its type and INTID encoded; the inventory keeps the SPI.
  out.serial = std::make_shared<devices::Serial>(
      std::make_shared<KvmIrqLine>(vm, aarch64::irq_line_for_spi(aarch64::kUartSpi)),
      std::make_shared<FdOutput>(serial_output_fd));
  dm.add_mmio_device("uart", Kind::kSerial, out.serial, aarch64::kUartBase,
                     devices::Serial::kPortCount, aarch64::kUartSpi);
  dm.add_mmio_device("rtc", Kind::kRtc,
                     std::make_shared<devices::Pl031Rtc>([] { return std::time(nullptr); }),
                     aarch64::kRtcBase, devices::Pl031Rtc::kWindowSize, aarch64::kRtcSpi);
  dm.add_mmio_device("debug-exit", Kind::kDebugExit, std::make_shared<devices::DebugExit>(stopper),
                     aarch64::kDebugExitBase, aarch64::kDebugExitSize);
  // No power button yet (QEMU virt's is a PL061 GPIO key); PCI's ECAM window comes with the
  // arm64 PCI host.
  return out;
}

}  // namespace vmm::arch
