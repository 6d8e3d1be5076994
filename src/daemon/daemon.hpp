#pragma once
// `vmm daemon`: the instance manager behind its REST API on a Unix socket, until SIGTERM or
// SIGINT. Instances are separate processes and outlive it; the next daemon re-adopts them.
#include <filesystem>
#include <string>

#include "instance/vm_backend.hpp"

namespace vmm::daemon {

inline constexpr const char* kDefaultSocket = "/run/vmm/vmm.sock";
inline constexpr const char* kDefaultStateDir = "/var/lib/vmm";

struct DaemonOptions {
  std::filesystem::path socket = kDefaultSocket;
  std::filesystem::path state_dir = kDefaultStateDir;
  // The group given access to the socket (mode 0660), when it exists.
  std::string group = "vmm";
  bool foreground = false;
  // The managed bridge instances attach to; empty name: no bridge (instances get "none").
  std::string bridge = "vmmbr0";
  std::string subnet = "10.44.0.1/24";  // the bridge's address and prefix
  // What VM instances boot; empty kernel: the cache's stock kernel and root-on-disk initramfs
  // ($VMM_CACHE_DIR, default ~/.cache/vmm) when they are there, else no VM instances.
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::string vm_cmdline_append;  // more kernel parameters for every VM instance
};

// The VM instances' boot files: the options', or the cache's when the options name no kernel.
[[nodiscard]] instance::VmBootConfig vm_boot_config(const DaemonOptions& options);

// Serves until a termination signal; returns the exit status. Without `foreground` it returns
// 0 in the parent once the daemon child serves. Throws vmm::Error for what stops it from
// starting (a live daemon on the socket, an unusable state directory).
int run_daemon(const DaemonOptions& options);

}  // namespace vmm::daemon
