#pragma once
// A VM disk image as a container root: the ext4 image is attached read-only to a loop device
// (auto-clearing, so it detaches when the last mount goes) and mounted read-only; a tmpfs
// overlay on top takes the container's writes. The image file is never written.
#include <string>

namespace vmm::container {

// Builds the overlay inside the calling process's (private) mount namespace under `workdir`
// and returns the path of the merged root. Throws vmm::ConfigError for an unusable image.
[[nodiscard]] std::string mount_image_rootfs(const std::string& image, const std::string& workdir);

}  // namespace vmm::container
