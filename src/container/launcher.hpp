#pragma once
// Starting a container's init: clone into new namespaces, place it in its cgroup, map its ids,
// run the hooks, build its root, and leave it either exec'ing the program (run) or waiting on
// the exec fifo for `start` (create).
#include <sys/types.h>

#include <optional>
#include <string>

#include "container/cgroup.hpp"
#include "container/oci_config.hpp"
#include "container/sync_channel.hpp"
#include "container/veth_network.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::container {

struct LaunchOptions {
  std::string id;
  std::string bundle;
  std::string state_dir;          // exists; holds exec.fifo and the image mount point
  bool wait_for_start = false;    // create: block on <state_dir>/exec.fifo until `start`
  bool outlives_runtime = false;  // create, run --detach: not killed when the runtime exits
  std::string image;              // non-empty: the root is a tmpfs overlay on this ext4 image
  bool veth = false;              // --net veth
  int preserve_fds = 0;
  const Seccomp* seccomp = nullptr;
  std::string cgroup_path;  // relative cgroup path; empty: no cgroup
  // run in the foreground: init is a system's init, and SIGTERM or SIGINT ask it to halt with
  // its own halt signal (systemd takes SIGTERM as "re-execute"); a second one kills it.
  bool system_init = false;
};

// The launched init and everything that belongs to it. Until release(), destruction kills
// the init and removes the cgroup.
class LaunchedContainer final {
 public:
  LaunchedContainer() = default;
  LaunchedContainer(LaunchedContainer&&) noexcept = default;
  LaunchedContainer& operator=(LaunchedContainer&&) noexcept = default;
  ~LaunchedContainer();

  pid_t pid = -1;
  Cgroup cgroup;
  UniqueFd pty_master;  // set when process.terminal
  SyncChannel channel;  // EOF once the program was exec'd; kError if that failed
  std::optional<VethPlan> veth;

  // Waits for the exec: throws vmm::Error with init's message when it failed.
  void wait_for_exec();
  // Detaches: the container now lives on its own (OCI create).
  void release() noexcept;
};

[[nodiscard]] LaunchedContainer launch(const Spec& spec, const LaunchOptions& options);

// `exec`: starts `process` inside the namespaces and cgroup of the running init `init_pid`.
// A `detached` process outlives the runtime; otherwise it is killed when the runtime dies.
[[nodiscard]] LaunchedContainer launch_exec(pid_t init_pid, const Process& process,
                                            const Seccomp* seccomp, const std::string& cgroup_path,
                                            int preserve_fds, bool detached);

// The ids a container maps when its spec asks for a new user namespace without mappings.
void fill_default_id_mappings(Spec& spec);

}  // namespace vmm::container
