#include "instance/debian_image.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "instance/child_process.hpp"
#include "instance/names.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::instance {

namespace fs = std::filesystem;

fs::path image_cache_dir() {
  const char* env = std::getenv("VMM_IMAGE_CACHE");
  return env != nullptr && *env != '\0' ? fs::path(env) : fs::path("/var/cache/vmm/images");
}

fs::path debian_12_tarball(const fs::path& cache_dir) {
  const char* env_mirror = std::getenv("DEBIAN_MIRROR");
  const std::string mirror =
      env_mirror != nullptr && *env_mirror != '\0' ? env_mirror : "http://deb.debian.org/debian";
  fs::create_directories(cache_dir);
  fs::path tarball =
      cache_dir / ("debian-12-" + short_hash(std::string(kDebianPackages) + " " + mirror) + ".tar");
  // One build at a time; a second asker waits and then finds the tarball.
  const UniqueFd lock(
      ::open((cache_dir / ".debian-12.lock").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!lock || ::flock(lock.get(), LOCK_EX) != 0) {
    throw system_error("cannot lock " + cache_dir.string(), errno);
  }
  if (fs::is_regular_file(tarball)) return tarball;
  if (run_captured({"sh", "-c", "command -v mmdebstrap"}).status != 0) {
    throw HostResourceError("building debian/12 needs mmdebstrap (apt-get install mmdebstrap)");
  }
  const fs::path partial = tarball.string() + ".partial.tar";
  std::error_code ec;
  fs::remove(partial, ec);
  const CapturedRun run =
      run_captured({"mmdebstrap", "--quiet", "--mode=root", "--variant=minbase",
                    std::string("--include=") + kDebianPackages,
                    // An instance's host name and machine id are its own, made at first boot.
                    "--customize-hook=rm -f \"$1\"/etc/hostname \"$1\"/etc/machine-id",
                    "--customize-hook=touch \"$1\"/etc/machine-id",
                    "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*.bin",
                    "bookworm", partial.string(), mirror});
  if (run.status != 0) {
    fs::remove(partial, ec);
    std::string last = run.output;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    if (const auto nl = last.rfind('\n'); nl != std::string::npos) last = last.substr(nl + 1);
    throw Error("mmdebstrap failed: " + last);
  }
  fs::rename(partial, tarball);
  return tarball;
}

}  // namespace vmm::instance
