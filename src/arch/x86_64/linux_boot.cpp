#include "arch/x86_64/linux_boot.hpp"

#include <spdlog/spdlog.h>

#include <span>
#include <vector>

#include "arch/x86_64/boot_params.hpp"
#include "arch/x86_64/e820.hpp"
#include "loader/bzimage.hpp"
#include "loader/cmdline.hpp"
#include "loader/elf_loader.hpp"
#include "loader/initrd.hpp"
#include "loader/input_file.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::x86_64 {
namespace {

// What the rest of the boot needs to know about a loaded kernel, whatever its format.
struct KernelFacts {
  loader::LoadedKernel loaded;
  std::span<const uint8_t> setup_header;  // empty for ELF
  uint64_t cmdline_max = 0;
  uint64_t initrd_addr_max = 0;
};

KernelFacts load_kernel(const GuestMemory& mem, const std::filesystem::path& path,
                        std::span<const uint8_t> image) {
  try {
    switch (loader::detect_kernel_format(image)) {
      case loader::KernelFormat::kBzImage: {
        const auto info = loader::parse_bzimage(image);
        return {loader::load_bzimage(mem, image, info), info.setup_header(image), info.cmdline_size,
                info.initrd_addr_max};
      }
      case loader::KernelFormat::kElf: {
        const auto info = loader::parse_elf_kernel(image);
        return {loader::load_elf_kernel(mem, image, info),
                {},
                kCmdlineMaxSize - 1,
                kDefaultInitrdAddrMax};
      }
      case loader::KernelFormat::kUnknown:
        break;
    }
  } catch (const ConfigError& e) {
    throw ConfigError(path.string() + ": " + e.what());
  }
  throw ConfigError(path.string() + ": not a bzImage or ELF kernel");
}

}  // namespace

LinuxBootInfo load_linux(const GuestMemory& mem, const LinuxBootConfig& cfg) {
  const std::vector<uint8_t> image = loader::InputFile::open(cfg.kernel).read_all();
  const KernelFacts kernel = load_kernel(mem, cfg.kernel, image);
  SPDLOG_DEBUG("kernel {} loaded at {:#x} (+{:#x}), entry {:#x}", cfg.kernel.string(),
               kernel.loaded.start.raw, kernel.loaded.size, kernel.loaded.entry.raw);

  loader::write_cmdline(mem, cfg.cmdline, kernel.cmdline_max);

  LinuxBootInfo info;
  info.entry = kernel.loaded.entry;
  info.boot_params = GuestAddress(kZeroPageAddr);
  info.kernel_start = kernel.loaded.start;
  info.kernel_size = kernel.loaded.size;
  if (cfg.initrd) {
    const auto initrd = loader::load_initrd(mem, *cfg.initrd, kernel.initrd_addr_max, kernel.loaded,
                                            cfg.initrd_appendix);
    info.initrd = initrd.start;
    info.initrd_size = initrd.size;
    SPDLOG_DEBUG("initrd {} loaded at {:#x} (+{:#x})", cfg.initrd->string(), initrd.start.raw,
                 initrd.size);
  } else if (!cfg.initrd_appendix.empty()) {
    // No file: vmm's own archive is the whole initramfs.
    const auto initrd =
        loader::load_initrd_bytes(mem, cfg.initrd_appendix, kernel.initrd_addr_max, kernel.loaded);
    info.initrd = initrd.start;
    info.initrd_size = initrd.size;
  }

  const auto e820 = build_e820_map(mem);
  ZeroPageConfig zero_page;
  zero_page.setup_header = kernel.setup_header;
  zero_page.cmdline = GuestAddress(kCmdlineAddr);
  zero_page.initrd = info.initrd;
  zero_page.initrd_size = info.initrd_size;
  zero_page.e820 = e820;
  zero_page.acpi_rsdp = cfg.acpi_rsdp;
  if (!mem.write_obj(info.boot_params, build_boot_params(zero_page))) {
    throw ConfigError("guest memory is too small for the zero page");
  }
  return info;
}

}  // namespace vmm::x86_64
