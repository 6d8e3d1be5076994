#include "container/system_container.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace vmm::container {

namespace fs = std::filesystem;

std::vector<Mount> system_container_mounts() {
  return {
      {"/run", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=755", "size=20%"}},
      {"/run/lock", "tmpfs", "tmpfs", {"nosuid", "nodev", "noexec", "size=5m"}},
      {"/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=1777", "size=50%"}},
  };
}

std::vector<int> system_container_capabilities() {
  constexpr std::array<int, 5> kHostOnly = {CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_SYS_TIME,
                                            CAP_SYS_MODULE, CAP_SYS_RAWIO};
  std::vector<int> caps;
  for (int cap = 0; cap <= CAP_AUDIT_READ; ++cap) {
    if (std::find(kHostOnly.begin(), kHostOnly.end(), cap) != kHostOnly.end()) continue;
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) caps.push_back(cap);
  }
  return caps;
}

Seccomp system_container_seccomp() {
  Seccomp filter;
  filter.default_action = "SCMP_ACT_ALLOW";
  filter.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  filter.syscalls.push_back(
      SeccompRule{.names = {"kexec_load", "kexec_file_load", "open_by_handle_at", "init_module",
                            "finit_module", "delete_module"},
                  .action = "SCMP_ACT_ERRNO",
                  .errno_ret = EPERM,
                  .args = {}});
  filter.syscalls.push_back(SeccompRule{
      .names = {"keyctl"}, .action = "SCMP_ACT_ERRNO", .errno_ret = ENOSYS, .args = {}});
  return filter;
}

bool is_init_command(const std::vector<std::string>& command) {
  if (command.empty()) return false;
  const std::string& program = command.front();
  return program == "/sbin/init" || program == "init" || program.ends_with("/systemd") ||
         program == "systemd";
}

int halt_signal(const fs::path& rootfs) {
  std::error_code ec;
  const fs::path init = fs::read_symlink(rootfs / "sbin/init", ec);
  if (!ec && init.string().find("systemd") != std::string::npos) return SIGRTMIN + 3;
  return SIGTERM;
}

}  // namespace vmm::container
