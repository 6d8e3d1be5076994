#pragma once
// The scratch directory of one benchmark run: a busybox root (unless the user names one), an
// OCI bundle over it, runtime state directories, and the vmm-runc name podman calls vmm by.
// Removed with everything in it when the run ends.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vmm::bench {

class Workspace {
 public:
  // Creates the directory under $TMPDIR (or /tmp). Throws vmm::HostResourceError.
  explicit Workspace(const std::filesystem::path& vmm_binary);
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace();

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  // A root with busybox-static's applets (a copy of the user's `--rootfs` is not made: it is
  // used as it is). nullopt with `why` set when busybox-static is not there.
  std::optional<std::filesystem::path> busybox_root(const std::string& name, std::string& why);
  // An OCI bundle whose config.json runs `args` in `root` (no terminal).
  std::filesystem::path bundle(const std::string& name, const std::filesystem::path& root,
                               const std::vector<std::string>& args);
  // A symlink named vmm-runc to vmm: the name under which vmm is a runc-compatible runtime.
  [[nodiscard]] std::filesystem::path vmm_runc() const { return dir_ / "bin" / "vmm-runc"; }

 private:
  std::filesystem::path dir_;
};

// The first executable `name` in PATH, or nullopt.
[[nodiscard]] std::optional<std::filesystem::path> find_in_path(const std::string& name);

}  // namespace vmm::bench
