#pragma once
// Container instances: the root is an overlayfs over the image's tree (the instance's own
// changes in <dir>/upper), the bundle is the instance directory, and the container runtime runs
// the image's init as PID 1. Lifecycle changes run `vmm oci` as a child (posix_spawn from a
// multithreaded daemon, and a runtime crash is the child's); state, pause and resume are
// library calls.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "container/runtime.hpp"
#include "instance/instance_record.hpp"

namespace vmm::instance {

enum class InstanceStatus { kStopped, kRunning, kFrozen };
[[nodiscard]] const char* status_name(InstanceStatus status);  // LXD's: Stopped, Running, Frozen

struct ExecOptions {
  std::vector<std::string> command;
  std::vector<std::string> environment;  // KEY=VALUE
  std::string cwd;
  std::string user;  // UID[:GID]
  int out_fd = -1;   // -1: discarded
  int err_fd = -1;
};

class ContainerBackend final {
 public:
  // `vmm_exe` runs the runtime (`vmm_exe oci --root RUNTIME_ROOT ...`).
  ContainerBackend(std::filesystem::path vmm_exe, std::filesystem::path runtime_root);

  // The instance's directories (upper, work, rootfs): empty, for a new instance.
  static void prepare(const std::filesystem::path& dir);
  // Mounts the root, writes `files` into it (paths relative to the root, resolved inside it),
  // writes config.json and runs init, detached. Its console goes to <dir>/console.log.
  // vmm::Error with the runtime's reason when it cannot start.
  void start(const InstanceRecord& record, const std::filesystem::path& dir,
             const std::filesystem::path& image_rootfs,
             const std::vector<std::pair<std::string, std::string>>& files = {});
  // Asks init to stop (its own halt signal), kills everything after `timeout` (at once when
  // force), removes the runtime's state and unmounts the root. A stopped instance is left as is.
  void stop(const std::string& name, const std::filesystem::path& dir,
            std::chrono::milliseconds timeout, bool force);
  void freeze(const std::string& name);
  void unfreeze(const std::string& name);
  [[nodiscard]] InstanceStatus status(const std::string& name) const;
  [[nodiscard]] pid_t init_pid(const std::string& name) const;
  // Runs a command in the running instance; its exit status (127: no such command).
  [[nodiscard]] int exec(const std::string& name, const ExecOptions& options);
  // Where the runtime keeps its containers' state (`vmm oci --root`): a root caller on this
  // host execs through it directly, with its own terminal and stdin.
  [[nodiscard]] const std::filesystem::path& runtime_root() const noexcept { return runtime_root_; }
  // Whether the command names an executable inside `rootfs` (resolved as the container would,
  // never outside it): 0, or the status a shell gives (127 missing, 126 not executable).
  [[nodiscard]] static int command_status(const std::filesystem::path& rootfs,
                                          const ExecOptions& options);
  // The line a shell prints for `command_status`'s 127 or 126.
  [[nodiscard]] static std::string command_status_message(const ExecOptions& options, int status);
  // `vmm_exe oci --root RUNTIME_ROOT exec [--tty] [--env ...] [--cwd] [--user] NAME -- CMD`.
  [[nodiscard]] static std::vector<std::string> exec_argv(const std::filesystem::path& vmm_exe,
                                                          const std::filesystem::path& runtime_root,
                                                          const std::string& name,
                                                          const ExecOptions& options, bool tty);

  // Whether the instance's root is mounted, and unmounting it (nothing when it is not).
  [[nodiscard]] static bool root_mounted(const std::filesystem::path& dir);
  static void unmount_root(const std::filesystem::path& dir);
  // The overlay of the image and the instance's layer on <dir>/rootfs (nothing when mounted).
  static void mount_root(const std::filesystem::path& dir,
                         const std::filesystem::path& image_rootfs);

 private:
  std::vector<std::string> runtime_argv(std::vector<std::string> args) const;
  // The instances' common cgroup, once no instance of this manager runs.
  void remove_cgroup_parent() const;

  std::filesystem::path vmm_exe_;
  std::filesystem::path runtime_root_;
  container::ContainerRuntime runtime_;
  std::string cgroup_parent_;  // relative to each controller's root
};

}  // namespace vmm::instance
