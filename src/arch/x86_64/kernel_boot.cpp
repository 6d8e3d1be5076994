#include <utility>

#include "arch/x86_64/arch.hpp"
#include "arch/x86_64/gdt.hpp"
#include "arch/x86_64/page_tables.hpp"

namespace vmm::arch {

BootInfo load_kernel(const GuestMemory& memory, KernelConfig config) {
  return x86_64::load_linux(memory, {.kernel = std::move(config.kernel),
                                     .initrd = std::move(config.initrd),
                                     .cmdline = std::move(config.cmdline),
                                     .acpi_rsdp = GuestAddress(x86_64::kAcpiRsdpAddr),
                                     .initrd_appendix = std::move(config.initrd_appendix)});
}

void write_boot_structures(const GuestMemory& memory) {
  x86_64::write_boot_gdt(memory);
  x86_64::write_identity_page_tables(memory);
}

}  // namespace vmm::arch
