#pragma once
// The container lifecycle as a library: create, start, run, exec, kill, delete, state, list and
// ps over one state directory. `vmm oci` (runc's command line) and `vmm container run` are
// argument parsing and printing around it, and a daemon can drive it the same way.
//
// Errors: vmm::ConfigError for what the caller can fix (bad id, missing bundle, unknown
// container), vmm::Error for runtime failures. A create that fails leaves no state directory,
// cgroup or process behind.
#include <sys/types.h>

#include <string>
#include <vector>

#include "container/launcher.hpp"
#include "container/oci_config.hpp"
#include "container/state_store.hpp"

namespace vmm::container {

// What `create` and `run` take (runc's flags).
struct CreateRequest {
  std::string id;
  std::string bundle = ".";
  std::string console_socket;  // receives the pty master when process.terminal is set
  std::string pid_file;        // the init's pid is written here
  int preserve_fds = 0;
  bool detach = false;  // run: return once the process runs
  bool keep = false;    // run: keep the state after the container exits
  bool no_pivot = false;
};

// What `exec` takes: the process (from --process or flags over the container's own).
struct ExecRequest {
  std::string id;
  Process process;
  std::string console_socket;
  std::string pid_file;
  bool detach = false;
  int preserve_fds = 0;
};

struct ContainerInfo {
  ContainerRecord record;
  Status status = Status::kStopped;
};

class ContainerRuntime final {
 public:
  explicit ContainerRuntime(std::string state_root) : store_(std::move(state_root)) {}

  // The init waits in its exec fifo until start().
  void create(const CreateRequest& request);
  // Releases a created container's init to exec its process; runs the poststart hooks.
  void start(const std::string& id);
  // create + start. In the foreground it supervises the process (signals forwarded) and
  // returns its exit status; detached it returns 0 once the process runs.
  [[nodiscard]] int run(const CreateRequest& request);
  // Runs a process in a running container; returns its exit status (0 when detached).
  [[nodiscard]] int exec(const ExecRequest& request);
  void kill(const std::string& id, int signal, bool all);
  // Freezes every process of a running container (cgroup freezer); state says "paused".
  void pause(const std::string& id);
  void resume(const std::string& id);
  // New limits for a created, running or paused container (runc update).
  void update(const std::string& id, const Resources& resources);
  // delete: a running container only with force (killed first).
  void remove(const std::string& id, bool force);

  [[nodiscard]] ContainerInfo state(const std::string& id) const;
  [[nodiscard]] std::vector<ContainerInfo> list() const;
  [[nodiscard]] std::vector<pid_t> processes(const std::string& id) const;
  // The config.json the container was created with (copied into its state at create).
  [[nodiscard]] Spec saved_spec(const std::string& id) const;

  // A one-off container built from a spec (`vmm container run`): its state exists while it
  // runs, and it is supervised in the foreground; returns its exit status.
  [[nodiscard]] int run_foreground(const Spec& spec, LaunchOptions options);
  // Removes the state directories and cgroups of foreground runs whose runtime died without
  // cleaning up (SIGKILL). Returns how many. `vmm container run` calls it before each run.
  size_t sweep_abandoned_runs();

  [[nodiscard]] const StateStore& store() const noexcept { return store_; }

 private:
  // Shared by create and run. On any failure the state directory, cgroup and init are gone.
  LaunchedContainer create_container(const CreateRequest& request, bool wait_for_start,
                                     ContainerRecord& record, Spec& spec);
  // The store's status, with "paused" when the cgroup is frozen.
  [[nodiscard]] Status status_of(const ContainerRecord& record) const;
  // Cleans up a container whose init has exited: cgroup, poststop hooks, state.
  void destroy_stopped(const ContainerRecord& record);
  void wait_until_stopped(const ContainerRecord& record) const;

  StateStore store_;
};

// A signal by name (TERM, SIGTERM, sigkill) or number; vmm::ConfigError when unknown.
[[nodiscard]] int parse_signal(std::string name);

}  // namespace vmm::container
