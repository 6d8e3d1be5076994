#pragma once
// What `--share PATH,tag=NAME[,readonly=on]` asks for, as plain values: a host directory the
// guest mounts over virtio-9p (`mount -t 9p -o trans=virtio,version=9p2000.L NAME /mnt`). The
// device and its file server live in vmm/virtio/p9_device.hpp.
#include <cstddef>
#include <filesystem>
#include <string>

namespace vmm {

struct ShareConfig {
  std::filesystem::path path;  // an existing host directory
  std::string tag;             // the name the guest mounts it by
  bool read_only = false;
  friend bool operator==(const ShareConfig&, const ShareConfig&) = default;
};

// The guest reads the tag from the device's configuration space (le16 length + bytes); Linux
// matches it against the mount source, which the kernel copies into one page. A short bound
// keeps tags readable and the configuration space small.
inline constexpr size_t kMaxShareTagLength = 64;

// What is wrong with a tag, or "": 1 to 64 printable ASCII characters, none of them a space,
// a comma or a slash.
[[nodiscard]] std::string share_tag_problem(const std::string& tag);
// What is wrong with a share's path, or "": it must name an existing directory.
[[nodiscard]] std::string share_path_problem(const std::filesystem::path& path);

}  // namespace vmm
