// `vmm container run`: one container in the foreground, built from flags that mirror
// `vmm run` (--cpus, --memory) so a workload can be compared as a VM and as a container.
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <random>

#include "container/cli.hpp"
#include "container/default_spec.hpp"
#include "container/launcher.hpp"
#include "container/runtime.hpp"
#include "container/sealed_exe.hpp"
#include "container/seccomp_filter.hpp"
#include "container/system_container.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

struct RunFlags {
  std::string rootfs;
  std::string image;
  double cpus = 0;
  std::string memory;
  int64_t pids = 0;
  std::string hostname;
  std::vector<std::string> env;
  std::string workdir = "/";
  std::string user;
  bool read_only = false;
  std::string net = "none";
  bool tty = false;
  std::string name;
  std::string systemd = "auto";  // auto: system container mode when the command is an init
};

// systemd's container interface and a system's capabilities (system_container.hpp), and the
// container's own cgroups writable.
void make_system_container(Spec& spec, bool rootless) {
  for (auto& m : spec.mounts) {
    if (m.destination == "/sys/fs/cgroup") std::erase(m.options, std::string("ro"));
  }
  for (auto& m : system_container_mounts()) spec.mounts.push_back(std::move(m));
  spec.process.env.emplace_back(kSystemContainerEnv);
  if (!rootless) {
    const std::vector<int> caps = system_container_capabilities();
    spec.process.capabilities.bounding = caps;
    spec.process.capabilities.effective = caps;
    spec.process.capabilities.permitted = caps;
  }
}

std::string runtime_state_root() {
  if (::geteuid() == 0) return "/run/vmm/container";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg)
    return std::string(xdg) + "/vmm/container";
  return "/tmp/vmm-" + std::to_string(::geteuid()) + "/container";
}

int run_container(const RunFlags& f, const std::vector<std::string>& command) {
  if (command.empty()) throw ConfigError("container run: no command given (use -- CMD [ARGS...])");
  if (f.rootfs.empty() == f.image.empty())
    throw ConfigError("container run: give exactly one of --rootfs or --image");
  const bool rootless = ::geteuid() != 0;
  Spec spec = default_spec(rootless);
  spec.process.args = command;
  spec.process.terminal = f.tty;
  if (f.tty) spec.process.env.push_back("TERM=xterm");
  if (f.systemd != "auto" && f.systemd != "always" && f.systemd != "never") {
    throw ConfigError("--systemd must be auto, always or never");
  }
  const bool system_init =
      f.systemd == "always" || (f.systemd == "auto" && is_init_command(command));
  if (system_init) make_system_container(spec, rootless);
  for (const auto& e : f.env) {
    if (e.find('=') == std::string::npos || e.front() == '=')
      throw ConfigError("--env: '" + e + "' is not KEY=VALUE");
    spec.process.env.push_back(e);
  }
  if (f.workdir.empty() || f.workdir.front() != '/')
    throw ConfigError("--workdir must be an absolute path");
  spec.process.cwd = f.workdir;
  if (!f.user.empty()) parse_user(f.user, spec.process.user);
  if (!f.rootfs.empty()) {
    std::error_code ec;
    const auto abs = std::filesystem::canonical(f.rootfs, ec);
    if (ec || !std::filesystem::is_directory(abs))
      throw ConfigError("--rootfs " + f.rootfs + ": not a directory");
    spec.root_path = abs.string();
  } else {
    if (!std::filesystem::is_regular_file(f.image))
      throw ConfigError("--image " + f.image + ": not a file");
    spec.root_path = "/";  // replaced by the overlay inside the container's mount namespace
  }
  spec.root_readonly = f.read_only;
  if (f.net == "host") {
    std::erase_if(spec.linux_config.namespaces,
                  [](const Namespace& n) { return n.type == CLONE_NEWNET; });
    if (rootless) {
      // A user namespace may not mount sysfs for a network namespace it does not own: show
      // the host's /sys read-only instead.
      for (auto& m : spec.mounts) {
        if (m.type == "sysfs")
          m = Mount{"/sys", "bind", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};
      }
    }
  } else if (f.net != "none" && f.net != "veth") {
    throw ConfigError("--net must be none, host or veth");
  }
  Resources& res = spec.linux_config.resources;
  if (f.cpus != 0) cpus_to_quota(f.cpus, res);
  if (!f.memory.empty()) {
    const uint64_t bytes = parse_size(f.memory, "--memory");
    if (bytes < (4U << 20)) throw ConfigError("--memory must be at least 4M");
    res.memory_limit = static_cast<int64_t>(bytes);
    res.memory_swap = res.memory_limit;  // no swap beyond the limit: the limit is the limit
  }
  if (f.pids < 0) throw ConfigError("--pids must be positive");
  if (f.pids > 0) res.pids_limit = f.pids;
  const bool limits = res.memory_limit || res.cpu_quota || res.pids_limit;
  if (rootless && limits) throw ConfigError("--cpus, --memory and --pids need root (cgroups)");
  // Deny every device except the standard nodes the runtime itself adds to the allow list.
  if (!rootless) res.devices = {{false, 'a', std::nullopt, std::nullopt, "rwm"}};

  std::string id = f.name;
  if (id.empty()) {
    std::random_device rd;
    char buf[32];
    std::snprintf(buf, sizeof(buf), "run-%d-%08x", ::getpid(), rd());
    id = buf;
  }
  spec.hostname = f.hostname.empty() ? id.substr(0, 63) : f.hostname;
  fill_default_id_mappings(spec);
  const Seccomp seccomp = system_init ? system_container_seccomp() : default_seccomp_profile();

  LaunchOptions o;
  o.id = id;
  o.image = f.image;
  o.veth = f.net == "veth";
  o.system_init = system_init;
  o.seccomp = &seccomp;
  if (!rootless) o.cgroup_path = "vmm/" + id;
  ContainerRuntime runtime(runtime_state_root());
  runtime.sweep_abandoned_runs();
  return runtime.run_foreground(spec, o);
}

}  // namespace

int container_main(int argc, char** argv) {
  CLI::App app{"vmm container: run a workload in a container on the host kernel", "vmm container"};
  app.set_version_flag("--version", std::string("vmm ") + VMM_VERSION);
  app.require_subcommand(1);
  RunFlags f;
  auto* run = app.add_subcommand("run", "Run CMD in a new container in the foreground");
  run->add_option("--rootfs", f.rootfs, "Root file system directory");
  run->add_option(
      "--image", f.image,
      "ext4 disk image (as booted by `vmm run`), mounted read-only with a tmpfs overlay");
  run->add_option("--cpus", f.cpus, "CPU quota in CPUs (e.g. 0.5)");
  run->add_option("--memory", f.memory, "Memory limit (e.g. 256M)");
  run->add_option("--pids", f.pids, "Maximum number of processes");
  run->add_option("--hostname", f.hostname, "Host name inside the container");
  run->add_option("--env", f.env, "Environment variable KEY=VALUE (repeatable)");
  run->add_option("--workdir", f.workdir, "Working directory inside the container");
  run->add_option("--user", f.user, "UID[:GID] to run as");
  run->add_option("--name", f.name, "Container id (default: generated)");
  run->add_flag("--read-only", f.read_only, "Mount the root file system read-only");
  run->add_option("--net", f.net, "Network: none (own namespace, loopback only), host, veth");
  run->add_flag("--tty,-t", f.tty, "Allocate a pseudo-terminal");
  run->add_option("--systemd", f.systemd,
                  "System container mode (tmpfs /run, writable cgroups, a system's capabilities; "
                  "SIGTERM and SIGINT halt init): auto (when the command is an init), always, "
                  "never");
  run->prefix_command();
  // Everything after the first "--" is the container's command, verbatim.
  std::vector<std::string> command;
  int own = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      own = i;
      command.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  try {
    app.parse(own, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(ExitStatus::kUsageError);
  }
  try {
    if (own == argc) command = run->remaining();
    ensure_running_from_sealed_copy();
    return run_container(f, command);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "vmm: %s\n", e.what());
    return static_cast<int>(ExitStatus::kUsageError);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmm: container: %s\n", e.what());
    return kContainerRuntimeError;
  }
}

}  // namespace vmm::container
