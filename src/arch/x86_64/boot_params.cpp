#include "arch/x86_64/boot_params.hpp"

#include <algorithm>
#include <cstring>

#include "vmm/common/error.hpp"

namespace vmm::x86_64 {
namespace {

uint32_t low32(uint64_t v) { return static_cast<uint32_t>(v); }
uint32_t high32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

}  // namespace

BootParams build_boot_params(const ZeroPageConfig& config) {
  if (config.e820.size() > kE820MaxEntries) throw Error("too many e820 entries for the zero page");
  BootParams params{};
  SetupHeader hdr{};
  if (config.setup_header.empty()) {
    hdr.boot_flag = kBootFlagMagic;
    hdr.header = kHdrSMagic;
    hdr.version = kBootProtocol212;
    hdr.loadflags = kLoadflagLoadedHigh;
    hdr.initrd_addr_max = kDefaultInitrdAddrMax;
  } else {
    // boot.rst: the loader copies the setup header from the image and then edits it.
    const size_t n = std::min(config.setup_header.size(), sizeof(SetupHeader));
    std::memcpy(&hdr, config.setup_header.data(), n);
  }
  hdr.type_of_loader = kLoaderTypeUndefined;
  hdr.loadflags = static_cast<uint8_t>(hdr.loadflags | kLoadflagCanUseHeap);
  hdr.heap_end_ptr = kHeapEndPtr;
  hdr.vid_mode = kVidModeNormal;
  hdr.cmd_line_ptr = low32(config.cmdline.raw);
  params.ext_cmd_line_ptr = high32(config.cmdline.raw);
  if (config.initrd) {
    hdr.ramdisk_image = low32(config.initrd->raw);
    hdr.ramdisk_size = low32(config.initrd_size);
    params.ext_ramdisk_image = high32(config.initrd->raw);
    params.ext_ramdisk_size = high32(config.initrd_size);
  }
  if (config.acpi_rsdp) params.acpi_rsdp_addr = config.acpi_rsdp->raw;
  params.hdr = hdr;
  params.e820_entries = static_cast<uint8_t>(config.e820.size());
  std::copy(config.e820.begin(), config.e820.end(), std::begin(params.e820_table));
  return params;
}

}  // namespace vmm::x86_64
