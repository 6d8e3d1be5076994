#pragma once
// The legacy devices of the platform vmm is built for, each at the place that platform's guests
// expect it and entered in the device manager's inventory. Every architecture defines
// add_platform_devices (src/arch/<arch>/platform_devices.cpp); it builds with the VM layer, as
// it places devices through the device manager.
#include <memory>

#include "devices/legacy/serial.hpp"
#include "devices/pci/pci_root.hpp"
#include "vmm/device_manager.hpp"
#include "vmm/devices/irq_line.hpp"
#include "vmm/devices/vm_stopper.hpp"
#include "vmm/kvm/vm_fd.hpp"

namespace vmm::arch {

struct PlatformDevices {
  std::shared_ptr<devices::Serial> serial;  // the console when there is no virtio console
  std::unique_ptr<IrqLine> power_button;    // asks the guest to shut down in good order
};

// `serial_output_fd` receives what the guest writes to the serial port. The VM fd, the stopper
// and the PCI root must outlive the devices.
[[nodiscard]] PlatformDevices add_platform_devices(DeviceManager& dm, const kvm::VmFd& vm,
                                                   VmStopper& stopper, pci::PciRoot& pci,
                                                   int serial_output_fd);

}  // namespace vmm::arch
