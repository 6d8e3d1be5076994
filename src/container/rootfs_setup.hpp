#pragma once
// Building the container's file system view inside its own mount namespace: the root, the
// configured mounts, a minimal /dev, then pivot_root and the masked/read-only paths.
#include <cstdint>
#include <string>
#include <vector>

#include "container/oci_config.hpp"

namespace vmm::container {

// Parsed mount(8)-style options, with the extensions runc and crun accept (and podman and
// containerd send): tmpcopyup, and the recursive attributes rro, rnosuid, ... (applied to the
// mount and every mount below it with mount_setattr).
struct MountFlags {
  unsigned long flags = 0;        // MS_* for mount(2)
  unsigned long propagation = 0;  // MS_PRIVATE/MS_SLAVE/... (with MS_REC), applied after
  bool bind = false;
  bool tmpcopyup = false;      // tmpfs: starts with a copy of what it covers
  uint64_t recursive_set = 0;  // MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE)
  uint64_t recursive_clear = 0;
  std::string data;  // filesystem-specific options, comma separated
};
// Throws vmm::ConfigError for an extension vmm does not implement (idmap, ...).
[[nodiscard]] MountFlags parse_mount_options(const std::vector<std::string>& options);

// The default mounts of a container (proc, /dev tmpfs, devpts, shm, mqueue, read-only sysfs,
// read-only cgroup). `rootless`: options that need a mapped gid 5, and the cgroup, left out.
[[nodiscard]] std::vector<Mount> default_mounts(bool rootless);
[[nodiscard]] std::vector<std::string> default_masked_paths();
[[nodiscard]] std::vector<std::string> default_readonly_paths();

// First step in the new mount namespace: nothing mounted afterwards propagates to the host.
void set_root_propagation(const Spec& spec);
// After pivot_root: linux.rootfsPropagation on the container's "/" (runc applies it there,
// since pivot_root refuses a shared root).
void apply_root_propagation(const Spec& spec);
// Before pivot_root: the root bind mount, spec.mounts, /dev nodes and links.
// `rootfs` is the host path of the directory that becomes "/"; `cgroup_path` the container's
// relative cgroup path (what a cgroup mount shows on a v1 host), empty when it has none.
void prepare_rootfs(const Spec& spec, const std::string& rootfs, const std::string& cgroup_path);
// pivot_root into `rootfs` and detach the old root.
void pivot_into(const std::string& rootfs);
// After pivot_root: checks /proc is procfs, writes sysctls, masks and read-only paths,
// makes the root read-only if asked.
void finish_rootfs(const Spec& spec);
// Opens /proc of the new root and fails unless it is a real procfs (not a symlink, a bind
// mount of an ordinary directory, or anything else the image might have planted).
[[nodiscard]] int open_verified_proc();

}  // namespace vmm::container
