#pragma once
// `vmm image build debian/12`: a Debian 12 (bookworm) root with systemd, made by mmdebstrap
// from Debian's registry (the remote image servers LXD uses are out of reach) and kept as a
// tarball in a cache, keyed by what went into it, so a second build is an import.
#include <filesystem>
#include <string>

namespace vmm::instance {

// What the image holds beyond minbase: an init, its bus and the tools an instance is driven with.
inline constexpr const char* kDebianPackages =
    "systemd,systemd-sysv,dbus,iproute2,iputils-ping,procps,less";

// $VMM_IMAGE_CACHE, else /var/cache/vmm/images.
[[nodiscard]] std::filesystem::path image_cache_dir();

// The tarball of the Debian 12 root in `cache_dir`, built first when it is not there (minutes;
// one build at a time). The mirror is $DEBIAN_MIRROR or deb.debian.org. vmm::HostResourceError
// when mmdebstrap is missing, vmm::Error with its last words when it fails.
[[nodiscard]] std::filesystem::path debian_12_tarball(const std::filesystem::path& cache_dir);

}  // namespace vmm::instance
