#pragma once
// Following init's root: an agent started inside an initramfs keeps the initramfs as its root
// after init's switch_root, so each connection moves into the root init now has.
#include <sys/stat.h>

#include <filesystem>
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

}  // namespace vmm::agent
