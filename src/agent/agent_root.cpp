#include "agent/agent_root.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

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

bool kernel_names_a_root(std::string_view cmdline) {
  size_t at = 0;
  while (at < cmdline.size()) {
    const size_t end = std::min(cmdline.find_first_of(" \t\n", at), cmdline.size());
    const std::string_view word = cmdline.substr(at, end - at);
    if (word.starts_with("root=") && word.size() > 5) return true;
    at = end + 1;
  }
  return false;
}

RootChange await_init_root(const std::vector<std::filesystem::path>& proc_dirs,
                           std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const RootChange change = follow_init_root(proc_dirs);
    if (change == RootChange::kFollowed || std::chrono::steady_clock::now() >= deadline) {
      return change;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace vmm::agent
