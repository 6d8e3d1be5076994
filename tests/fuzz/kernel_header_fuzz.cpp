// Feeds arbitrary bytes to the kernel image parsers and loaders. Every input must end in a
// parsed image or a vmm::Error; anything else (crash, sanitizer report, other exception) is a
// bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "loader/bzimage.hpp"
#include "loader/elf_loader.hpp"
#include "loader/kernel_image.hpp"
#include "loader/kernel_release.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace {

// Small, so that pref_address and ELF segments both hit and miss RAM.
const vmm::GuestMemory& guest_memory() {
  static const auto mem = vmm::GuestMemory::create(
      32 * vmm::x86_64::kMiB, vmm::x86_64::kMmioHoleStart, vmm::x86_64::kMmioHoleEnd);
  return mem;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> image(data, size);
  (void)vmm::loader::detect_kernel_format(image);
  (void)vmm::loader::bzimage_kernel_release(image);  // never throws
  try {
    const auto info = vmm::loader::parse_bzimage(image);
    (void)info.setup_header(image);
    (void)vmm::loader::load_bzimage(guest_memory(), image, info);
  } catch (const vmm::Error&) {
  }
  try {
    const auto info = vmm::loader::parse_elf_kernel(image);
    (void)vmm::loader::load_elf_kernel(guest_memory(), image, info);
  } catch (const vmm::Error&) {
  }
  return 0;
}
