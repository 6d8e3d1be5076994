#pragma once
// Following init's root: an agent started inside an initramfs keeps the initramfs as its root
// after init's switch_root, so each connection moves into the root init now has.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string_view>
#include <vector>

namespace vmm::agent {

// True when both name the same directory (device and inode).
[[nodiscard]] bool same_directory(const struct stat& a, const struct stat& b) noexcept;

enum class RootChange {
  kSame,         // init's root is ours already
  kFollowed,     // chrooted into init's root
  kUnavailable,  // no proc file system shows init's root (not mounted yet, or not allowed)
};

// For each proc mount in `proc_dirs` (the first that shows PID 1's root is used): when
// PROC/1/root differs from "/", chroot there and chdir("/"). vmm::Error when chroot fails.
RootChange follow_init_root(const std::vector<std::filesystem::path>& proc_dirs);

// True when the kernel command line names a root file system (a non-empty `root=`): the
// initramfs is then a stage, and its init will switch_root into that file system.
[[nodiscard]] bool kernel_names_a_root(std::string_view cmdline);

// follow_init_root until init has switched root (kFollowed) or `limit` has passed; then the
// last answer. A request that comes while the initramfs still runs thus sees the final root.
RootChange await_init_root(const std::vector<std::filesystem::path>& proc_dirs,
                           std::chrono::milliseconds limit);

}  // namespace vmm::agent
