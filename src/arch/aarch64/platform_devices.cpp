// arm64's platform devices (vmm/platform_devices.hpp), at memory_layout.hpp's places and on the
// lines the device tree gives them: the 16550A with byte registers, the PL031 clock, the
// debug-exit register and the PCI host's ECAM window. Built with the VM layer on arm64 hosts
// only.
#include "vmm/platform_devices.hpp"

#include <ctime>

#include "arch/aarch64/memory_layout.hpp"
#include "devices/legacy/debug_exit.hpp"
#include "devices/legacy/pl031_rtc.hpp"
#include "vmm/host_console.hpp"
#include "vmm/kvm_irq_line.hpp"

namespace vmm::arch {

PlatformDevices add_platform_devices(DeviceManager& dm, const kvm::VmFd& vm, VmStopper& stopper,
                                     pci::PciRoot& pci, int serial_output_fd) {
  using Kind = PlatformDeviceKind;
  PlatformDevices out;
  out.serial =
      std::make_shared<devices::Serial>(std::make_shared<KvmIrqLine>(vm, aarch64::kUartSpi),
                                        std::make_shared<FdOutput>(serial_output_fd));
  dm.add_mmio_device("uart", Kind::kSerial, out.serial, aarch64::kUartBase,
                     devices::Serial::kPortCount, aarch64::kUartSpi);
  dm.add_mmio_device("rtc", Kind::kRtc,
                     std::make_shared<devices::Pl031Rtc>([] { return std::time(nullptr); }),
                     aarch64::kRtcBase, devices::Pl031Rtc::kWindowSize, aarch64::kRtcSpi);
  dm.add_mmio_device("debug-exit", Kind::kDebugExit, std::make_shared<devices::DebugExit>(stopper),
                     aarch64::kDebugExitBase, aarch64::kDebugExitSize);
  dm.add_mmio_device("pci-ecam", Kind::kPciHost, pci.ecam(), aarch64::kPciEcamBase,
                     aarch64::kPciEcamSize);
  // No power button yet (QEMU virt's is a PL061 GPIO key).
  return out;
}

}  // namespace vmm::arch
