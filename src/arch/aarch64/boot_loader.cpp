#include "arch/aarch64/boot_loader.hpp"

#include <fmt/format.h>

#include "arch/aarch64/arm64_image.hpp"
#include "arch/aarch64/memory_layout.hpp"
#include "vmm/common/error.hpp"

namespace vmm::aarch64 {
namespace {

constexpr uint64_t kInitrdAlignment = 4 * kKiB;

}  // namespace

std::optional<uint64_t> place_initrd(uint64_t size, uint64_t kernel_end, uint64_t fdt) noexcept {
  if (size > fdt) return std::nullopt;
  const uint64_t start = (fdt - size) & ~(kInitrdAlignment - 1);
  if (start < kernel_end) return std::nullopt;
  return start;
}

Arm64BootPayload load_arm64_payload(const GuestMemory& memory, std::span<const uint8_t> image,
                                    std::span<const uint8_t> initrd) {
  const auto regions = memory.regions();
  if (regions.size() != 1 || regions.front().start.raw != kRamBase) {
    throw Error("arm64 guest memory must be one region at the layout's RAM base");
  }
  const uint64_t ram_size = regions.front().size;
  if (ram_size < kFdtMaxSize || fdt_address(kRamBase, ram_size) < kRamBase) {
    throw ConfigError("guest memory is too small for the device tree's 2 MiB block");
  }
  const Arm64ImageInfo info = parse_arm64_image(image);
  const Arm64ImagePlacement place = place_arm64_image(info, kRamBase, ram_size);

  Arm64BootPayload payload;
  payload.entry = place.load_address;
  payload.kernel_end = place.end;
  payload.fdt = fdt_address(kRamBase, ram_size);
  if (payload.kernel_end > payload.fdt) {
    throw ConfigError(
        fmt::format("guest memory is too small: the kernel needs up to {:#x}, the "
                    "device tree's block starts at {:#x}",
                    payload.kernel_end, payload.fdt));
  }
  if (!memory.write(GuestAddress{payload.entry}, image)) {
    throw Error("arm64 Image does not fit in guest memory");  // place_arm64_image checked it
  }
  if (!initrd.empty()) {
    const auto start = place_initrd(initrd.size(), payload.kernel_end, payload.fdt);
    if (!start) {
      throw ConfigError(fmt::format(
          "initrd of {} MiB does not fit between the kernel and the device tree; give the guest "
          "more memory",
          (initrd.size() + kMiB - 1) / kMiB));
    }
    if (!memory.write(GuestAddress{*start}, initrd)) {
      throw Error("initrd does not fit in guest memory");
    }
    payload.initrd = FdtInitrd{*start, initrd.size()};
  }
  return payload;
}

void write_device_tree(const GuestMemory& memory, uint64_t fdt, std::span<const uint8_t> blob) {
  if (blob.size() > kFdtMaxSize || !memory.write(GuestAddress{fdt}, blob)) {
    throw Error(fmt::format("device tree of {} bytes does not fit its 2 MiB block", blob.size()));
  }
}

}  // namespace vmm::aarch64
