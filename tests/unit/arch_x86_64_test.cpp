// The x86-64 side of the per-arch functions writes guest memory exactly as the x86-64 code it
// wraps does when called the way the VM builder called it directly, so the seam changes
// nothing a guest sees.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "arch/x86_64/acpi_tables.hpp"
#include "arch/x86_64/arch.hpp"
#include "arch/x86_64/cpuid.hpp"
#include "arch/x86_64/gdt.hpp"
#include "arch/x86_64/mptable.hpp"
#include "arch/x86_64/page_tables.hpp"
#include "arch/x86_64/platform_tables.hpp"
#include "arch/x86_64/smbios.hpp"
#include "unit/kernel_test_images.hpp"
#include "vmm/common/uuid.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::arch {
namespace {

using testing_images::BzImageSpec;
using testing_images::make_bzimage;
using testing_images::TempFile;

constexpr uint64_t kRamBytes = 64 * x86_64::kMiB;

GuestMemory ram() {
  return GuestMemory::create(kRamBytes, x86_64::kMmioHoleStart, x86_64::kMmioHoleEnd);
}

void expect_same_contents(const GuestMemory& actual, const GuestMemory& expected) {
  ASSERT_EQ(actual.regions().size(), expected.regions().size());
  for (size_t i = 0; i < actual.regions().size(); ++i) {
    const GuestRegion& a = actual.regions()[i];
    const GuestRegion& e = expected.regions()[i];
    ASSERT_EQ(a.start, e.start);
    ASSERT_EQ(a.size, e.size);
    EXPECT_EQ(std::memcmp(a.host, e.host, a.size), 0) << "region at " << a.start.raw;
  }
}

TEST(ArchX86_64, GuestMemoryLeavesTheMmioHoleFree) {
  const GuestMemory mem = create_guest_memory(kRamBytes);
  ASSERT_EQ(mem.regions().size(), 1u);
  EXPECT_EQ(mem.regions()[0].start, GuestAddress(0));
  EXPECT_EQ(mem.regions()[0].size, kRamBytes);
}

TEST(ArchX86_64, BootStructuresAreTheGdtAndTheIdentityMap) {
  const GuestMemory via_seam = ram();
  write_boot_structures(via_seam);
  const GuestMemory direct = ram();
  x86_64::write_boot_gdt(direct);
  x86_64::write_identity_page_tables(direct);
  expect_same_contents(via_seam, direct);
}

TEST(ArchX86_64, KernelIsLoadedWithTheRsdpInTheZeroPage) {
  const TempFile kernel("kernel.bz", make_bzimage(BzImageSpec{}));
  const TempFile initrd("initrd.img", std::vector<uint8_t>(10000, 0x5e));
  const std::vector<uint8_t> appendix(512, 0x42);
  const GuestMemory via_seam = ram();
  const BootInfo boot = load_kernel(via_seam, {.kernel = kernel.path(),
                                               .initrd = initrd.path(),
                                               .cmdline = "console=ttyS0 panic=1",
                                               .initrd_appendix = appendix});
  const GuestMemory direct = ram();
  const x86_64::LinuxBootInfo expected =
      x86_64::load_linux(direct, {.kernel = kernel.path(),
                                  .initrd = initrd.path(),
                                  .cmdline = "console=ttyS0 panic=1",
                                  .acpi_rsdp = GuestAddress(x86_64::kAcpiRsdpAddr),
                                  .initrd_appendix = appendix});
  EXPECT_EQ(boot.entry, expected.entry);
  EXPECT_EQ(boot.boot_params, expected.boot_params);
  EXPECT_EQ(boot.initrd, expected.initrd);
  EXPECT_EQ(boot.initrd_size, expected.initrd_size);
  expect_same_contents(via_seam, direct);
}

TEST(ArchX86_64, FirmwareTablesComeFromTheInventory) {
  std::vector<PlatformDevice> inventory;
  auto add = [&](const char* id, PlatformDeviceKind kind, uint64_t port, uint64_t count,
                 std::optional<uint32_t> gsi) {
    PlatformDevice& d = inventory.emplace_back(id, kind);
    d.io_base = port;
    d.io_size = count;
    d.gsi = gsi;
    return &d;
  };
  add("com1", PlatformDeviceKind::kSerial, 0x3f8, 8, 4);
  add("acpi-power", PlatformDeviceKind::kAcpiPower, 0x600, 3, std::nullopt);
  add("power-button", PlatformDeviceKind::kPowerButton, 0, 0, 13);
  add("pci-config-address", PlatformDeviceKind::kPciHost, 0xcf8, 4, std::nullopt);
  add("disk0", PlatformDeviceKind::kVirtioPci, 0, 0, x86_64::kPciIntxFirstPin)->pci_slot = 1;
  const FirmwareInfo info{.cpu_count = 2,
                          .memory_bytes = kRamBytes,
                          .uuid = parse_uuid("6f1f3b2e-0c47-4d8e-9a51-2b7f0e4c9d13")};

  const GuestMemory via_seam = ram();
  write_firmware_tables(via_seam, inventory, info, BootInfo{});

  const GuestMemory direct = ram();
  x86_64::write_mptable(direct, info.cpu_count, x86_64::mp_pci_interrupts(inventory));
  (void)x86_64::write_acpi_tables(direct, x86_64::acpi_platform(inventory, info.cpu_count));
  x86_64::SmbiosInfo smbios;
  smbios.uuid = info.uuid;
  smbios.serial = to_string(info.uuid);
  smbios.acpi = true;
  smbios.memory_bytes = info.memory_bytes;
  smbios.cpu_count = info.cpu_count;
  smbios.cpu_version = x86_64::host_cpu_brand();
  x86_64::write_smbios(direct, smbios);
  expect_same_contents(via_seam, direct);
}

}  // namespace
}  // namespace vmm::arch
