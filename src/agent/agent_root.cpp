#include "agent/agent_root.hpp"

#include <unistd.h>

#include <cerrno>

#include "vmm/common/error.hpp"

namespace vmm::agent {

bool same_directory(const struct stat& a, const struct stat& b) noexcept {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

RootChange follow_init_root(const std::vector<std::filesystem::path>& proc_dirs) {
  struct stat ours {};
  if (::stat("/", &ours) != 0) return RootChange::kUnavailable;
  for (const auto& proc : proc_dirs) {
    // The trailing slash makes stat() follow the magic link to init's root directory.
    const std::string init_root = (proc / "1" / "root").string() + "/";
    struct stat theirs {};
    if (::stat(init_root.c_str(), &theirs) != 0) continue;
    if (same_directory(ours, theirs)) return RootChange::kSame;
    if (::chroot(init_root.c_str()) != 0) {
      throw system_error("vmm-agent: chroot " + init_root, errno);
    }
    if (::chdir("/") != 0) throw system_error("vmm-agent: chdir / in init's root", errno);
    return RootChange::kFollowed;
  }
  return RootChange::kUnavailable;
}

}  // namespace vmm::agent
