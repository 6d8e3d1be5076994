// arm64's memory, kernel and firmware-table functions of the arch seam (vmm/arch/arch.hpp):
// RAM from the layout's base, the boot payload (boot_loader.hpp) and the device tree built from
// the platform inventory.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "arch/aarch64/arch.hpp"
#include "arch/aarch64/boot_loader.hpp"
#include "loader/input_file.hpp"
#include "vmm/common/error.hpp"

namespace vmm::arch {

GuestMemory create_guest_memory(uint64_t ram_bytes) {
  if (ram_bytes > aarch64::kRamMaxSize) {
    throw ConfigError("memory", fmt::format("an arm64 VM has at most {} GiB of RAM",
                                            aarch64::kRamMaxSize / aarch64::kGiB));
  }
  return GuestMemory::create_regions({{GuestAddress{aarch64::kRamBase}, ram_bytes}});
}

BootInfo load_kernel(const GuestMemory& memory, KernelConfig config) {
  const std::vector<uint8_t> image = loader::InputFile::open(config.kernel).read_all();
  std::vector<uint8_t> initrd;
  if (config.initrd) initrd = loader::InputFile::open(*config.initrd).read_all();
  if (!config.initrd_appendix.empty()) {
    // The kernel finds each concatenated cpio archive on a 4-byte boundary.
    initrd.resize((initrd.size() + 3) & ~std::size_t{3}, 0);
    initrd.insert(initrd.end(), config.initrd_appendix.begin(), config.initrd_appendix.end());
  }
  aarch64::Arm64BootPayload payload;
  try {
    payload = aarch64::load_arm64_payload(memory, image, initrd);
  } catch (const ConfigError& e) {
    throw ConfigError(config.kernel.string() + ": " + e.what());
  }
  return BootInfo{GuestAddress{payload.entry}, GuestAddress{payload.fdt}, std::move(config.cmdline),
                  payload.initrd};
}

// The kernel builds its own page tables and exception vectors; nothing goes in memory first.
void write_boot_structures(const GuestMemory& /*memory*/) {}

// The GIC needs every vCPU first (finish_vm); nothing VM-wide comes before them.
void setup_vm(const kvm::VmFd& /*vm*/) {}

void write_firmware_tables(const GuestMemory& memory, std::span<const PlatformDevice> inventory,
                           const FirmwareInfo& info, const BootInfo& boot) {
  aarch64::DeviceTreeDescription tree =
      aarch64::standard_device_tree(info.memory_bytes, info.cpu_count);
  tree.bootargs = boot.cmdline;
  tree.initrd = boot.initrd;
  // The virtio-mmio nodes say what the device manager placed: window and line.
  for (const PlatformDevice& device : inventory) {
    if (device.kind != PlatformDeviceKind::kVirtioMmio) continue;
    if (!device.gsi) throw Error(device.id + ": virtio-mmio device without an interrupt line");
    tree.virtio_mmio.push_back(
        {{device.mmio_base, device.mmio_size, *device.gsi}, aarch64::VirtioMmioKind::kOther});
  }
  aarch64::write_device_tree(memory, boot.fdt.raw, aarch64::build_device_tree(tree));
}

}  // namespace vmm::arch
