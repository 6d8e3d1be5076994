#include "container/image_mount.hpp"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::container {
namespace {

// Attaches `image_fd` read-only to a free loop device and returns the open device.
UniqueFd attach_loop(int image_fd) {
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control) throw system_error("cannot open /dev/loop-control", errno);
  for (int attempt = 0; attempt < 16; ++attempt) {
    const int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) throw system_error("no free loop device", errno);
    const std::string dev = "/dev/loop" + std::to_string(n);
    UniqueFd loop(::open(dev.c_str(), O_RDONLY | O_CLOEXEC));
    if (!loop) throw system_error("cannot open " + dev, errno);
    loop_config cfg{};
    cfg.fd = static_cast<uint32_t>(image_fd);
    cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
    std::strncpy(reinterpret_cast<char*>(cfg.info.lo_file_name), "vmm-container-image",
                 LO_NAME_SIZE - 1);
    if (::ioctl(loop.get(), LOOP_CONFIGURE, &cfg) == 0) return loop;
    if (errno != EBUSY) throw system_error("cannot attach the image to " + dev, errno);
    // Another process took this device between GET_FREE and CONFIGURE: try the next one.
  }
  throw Error("no free loop device after 16 attempts");
}

void make_dir(const std::string& p) {
  if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) throw system_error("mkdir " + p, errno);
}

}  // namespace

std::string mount_image_rootfs(const std::string& image, const std::string& workdir) {
  UniqueFd img(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
  if (!img) throw ConfigError("cannot open image " + image + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(img.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw ConfigError("image " + image + " is not a regular file");
  make_dir(workdir);
  if (::mount("tmpfs", workdir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
    throw system_error("cannot mount the overlay tmpfs", errno);
  }
  const std::string lower = workdir + "/lower";
  const std::string upper = workdir + "/upper";
  const std::string work = workdir + "/work";
  std::string merged = workdir + "/merged";
  for (const auto& d : {lower, upper, work, merged}) make_dir(d);
  UniqueFd loop = attach_loop(img.get());
  const std::string dev = "/proc/self/fd/" + std::to_string(loop.get());
  // noload: never replay a journal, the device is read-only and the image must not change.
  if (::mount(dev.c_str(), lower.c_str(), "ext4", MS_RDONLY | MS_NODEV, "noload") != 0) {
    throw ConfigError("cannot mount image " + image + " as ext4: " + std::strerror(errno));
  }
  const std::string opts = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()) != 0) {
    throw system_error("cannot mount the overlay", errno);
  }
  return merged;
}

}  // namespace vmm::container
