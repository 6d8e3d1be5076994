#pragma once
// The root disk of a VM instance: an ext4 image (<dir>/root.img, sparse) made from the image's
// unpacked tree, which the guest mounts as /dev/vda. Snapshots and restores copy it whole,
// sharing blocks where the file system can.
#include <cstdint>
#include <filesystem>
#include <optional>

#include "instance/agent_install.hpp"

namespace vmm::instance {

// The size a disk gets when root.size is not set: twice the tree and 256MiB more, so the guest
// has room to write, rounded up to a MiB and at least 512MiB.
[[nodiscard]] uint64_t default_root_disk_size(uint64_t tree_bytes);

// The bytes of the regular files and symlinks under `root` (what mkfs has to hold).
[[nodiscard]] uint64_t tree_bytes(const std::filesystem::path& root);

// Makes `disk` (replacing it) an ext4 file system of `size` bytes holding a copy of `tree`,
// owners and modes kept. vmm::Error with mkfs's reason (a tree too big for the size).
// With `agent` (the host's vmm-agent), the disk also carries the guest agent and the hook that
// starts it (agent_install.hpp), added to a staging copy of `tree` beside `disk` (hard links
// where the file systems allow) so that `tree` itself is never written. Returns that hook:
// kNone without `agent`, for a tree whose init system has no hook, or when installing failed
// (logged; the disk is then made from `tree` as it is).
AgentHook make_root_disk(const std::filesystem::path& tree, const std::filesystem::path& disk,
                         uint64_t size,
                         const std::optional<std::filesystem::path>& agent = std::nullopt);

// Copies a disk image, holes and shared blocks kept (cp --reflink=auto --sparse=always).
void copy_disk(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace vmm::instance
