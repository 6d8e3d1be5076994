#pragma once
// The kernel modules `vmm run --exec` puts into its initramfs: what a guest needs to mount the
// host's root over virtio-9p under a tmpfs overlay and to write on hvc0, for kernels that
// build those drivers as modules (Debian's stock kernel does).
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmm::loader {

struct GuestModule {
  std::string file_name;  // "9p.ko", as the load-order file names it
  std::vector<uint8_t> bytes;
};

// Paths under the release's kernel/ directory, dependencies first (the load order).
// virtio_mmio serves --transport mmio.
inline constexpr std::array<std::string_view, 13> kHostExecModules = {
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/virtio/virtio_mmio.ko",
    "drivers/char/virtio_console.ko",
    "fs/netfs/netfs.ko",
    "fs/fscache/fscache.ko",
    "net/9p/9pnet.ko",
    "net/9p/9pnet_virtio.ko",
    "fs/9p/9p.ko",
    "fs/overlayfs/overlay.ko"};

// The kernel options --exec cannot do without, each built in (=y) or a module (=m).
inline constexpr std::array<std::string_view, 5> kHostExecKernelOptions = {
    "CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_CONSOLE", "CONFIG_NET_9P_VIRTIO", "CONFIG_9P_FS",
    "CONFIG_OVERLAY_FS"};

// Where a kernel's modules may be, in order: /lib/modules/RELEASE, /usr/lib/modules/RELEASE,
// modules/RELEASE beside the kernel file, and `cache_dir`/kernel/modules/RELEASE (where
// firmware/fetch-debian-kernel.sh unpacks them; the kernel may be a copy elsewhere), unless
// cache_dir is empty. Pure.
[[nodiscard]] std::vector<std::filesystem::path> modules_dir_candidates(
    const std::filesystem::path& kernel, std::string_view release,
    const std::filesystem::path& cache_dir);

// Where a kernel's build configuration may be: config-RELEASE and config beside the kernel,
// /boot/config-RELEASE. Pure.
[[nodiscard]] std::vector<std::filesystem::path> kernel_config_candidates(
    const std::filesystem::path& kernel, std::string_view release);

// The first of kHostExecKernelOptions that `config_text` (a kernel .config) neither builds in
// nor as a module, or nullopt when it has them all. Pure.
[[nodiscard]] std::optional<std::string> missing_kernel_option(std::string_view config_text);

// The modules of kHostExecModules found in `modules_dir` (as NAME.ko, or compressed as
// NAME.ko.xz / .ko.zst / .ko.gz), in load order; those listed in its modules.builtin are
// skipped. Throws ConfigError naming the module when one of 9p, 9pnet_virtio, overlay or
// virtio_console is neither there nor built in.
[[nodiscard]] std::vector<GuestModule> collect_host_exec_modules(
    const std::filesystem::path& modules_dir);

// Everything above for `kernel`: its release from the bzImage header, a config that lacks an
// option (ConfigError naming the option and the file), and the modules of the first modules
// directory that exists (none when there is none: the kernel must have them built in). The
// cache directory is $VMM_CACHE_DIR, else ~/.cache/vmm.
[[nodiscard]] std::vector<GuestModule> host_exec_modules_for(const std::filesystem::path& kernel);

}  // namespace vmm::loader
