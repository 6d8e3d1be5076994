#include "instance/container_backend.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "container/cgroup.hpp"
#include "container/default_spec.hpp"
#include "container/path_in_root.hpp"
#include "container/system_container.hpp"
#include "instance/child_process.hpp"
#include "instance/names.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// systemd's container interface on top of the runtime's defaults (see system_container.hpp):
// the tmpfs mounts, and the cgroup file system writable (the container's own cgroups).
void add_system_mounts(json& mounts) {
  for (auto& mount : mounts) {
    if (mount.value("destination", "") != "/sys/fs/cgroup") continue;
    json options = json::array();
    for (const auto& option : mount["options"]) {
      if (option != "ro") options.push_back(option);
    }
    options.push_back("rw");
    mount["options"] = options;
  }
  for (const auto& mount : container::system_container_mounts()) {
    mounts.push_back(json{{"destination", mount.destination},
                          {"type", mount.type},
                          {"source", mount.source},
                          {"options", mount.options}});
  }
}

std::string spec_for(const InstanceRecord& record, const std::string& cgroup_parent) {
  json spec = json::parse(container::spec_template_json(false));
  spec["root"] = json{{"path", "rootfs"}, {"readonly", false}};
  auto& process = spec["process"];
  process["args"] = json::array({"/sbin/init"});
  // /dev/console is a terminal that the console keeper holds (systemd wants one).
  process["terminal"] = true;
  process["noNewPrivileges"] = false;
  process["env"].push_back(container::kSystemContainerEnv);
  json caps = json::array();
  const auto names = container::capability_names();
  for (const int cap : container::system_container_capabilities()) caps.push_back(names[cap]);
  process["capabilities"] = json{{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  spec["hostname"] = record.name;
  add_system_mounts(spec["mounts"]);
  const container::Seccomp filter = container::system_container_seccomp();
  json rules = json::array();
  for (const auto& rule : filter.syscalls) {
    rules.push_back(
        json{{"names", rule.names}, {"action", rule.action}, {"errnoRet", *rule.errno_ret}});
  }
  spec["linux"]["seccomp"] = json{{"defaultAction", filter.default_action},
                                  {"architectures", filter.architectures},
                                  {"syscalls", rules}};
  spec["linux"]["cgroupsPath"] = cgroup_parent + "/" + record.name;
  auto& resources = spec["linux"]["resources"];
  if (const uint64_t memory = memory_limit(record.config); memory != 0) {
    resources["memory"] = json{{"limit", memory}};
  }
  if (const auto it = record.config.find("limits.cpu"); it != record.config.end()) {
    constexpr int64_t kPeriod = 100'000;
    resources["cpu"] = json{{"period", kPeriod}, {"quota", std::stoll(it->second) * kPeriod}};
  }
  return spec.dump(2);
}

std::string tail_of(const fs::path& file) {
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (const auto nl = text.rfind('\n'); nl != std::string::npos) text = text.substr(nl + 1);
  return text;
}

constexpr int kCommandNotFound = 127;
constexpr int kCommandNotExecutable = 126;

}  // namespace

int ContainerBackend::command_status(const fs::path& rootfs, const ExecOptions& options) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return 0;  // the runtime reports it
  const std::string& command = options.command.front();
  const auto status_of = [&](const std::string& path) {
    bool missing = false;
    UniqueFd fd;
    try {
      fd = container::open_in_root(root.get(), path, &missing);
    } catch (const Error&) {
      return kCommandNotFound;
    }
    if (missing || !fd) return kCommandNotFound;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return kCommandNotFound;
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) return kCommandNotExecutable;
    return 0;
  };
  if (command.find('/') != std::string::npos) {
    const std::string cwd = options.cwd.empty() ? "/" : options.cwd;
    return status_of(command.front() == '/' ? command : cwd + "/" + command);
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& env : options.environment) {
    if (env.starts_with("PATH=")) path = env.substr(5);
  }
  int best = kCommandNotFound;
  size_t pos = 0;
  while (pos <= path.size()) {
    const auto colon = path.find(':', pos);
    const std::string dir =
        path.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    const int status = status_of((dir.empty() ? "." : dir) + "/" + command);
    if (status == 0) return 0;
    best = std::min(best, status);
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return best;
}

std::string ContainerBackend::command_status_message(const ExecOptions& options, int status) {
  return options.command.front() +
         (status == kCommandNotFound ? ": command not found\n" : ": permission denied\n");
}

std::vector<std::string> ContainerBackend::exec_argv(const fs::path& vmm_exe,
                                                     const fs::path& runtime_root,
                                                     const std::string& name,
                                                     const ExecOptions& options, bool tty) {
  std::vector<std::string> argv = {vmm_exe.string(), "oci", "--root", runtime_root.string(),
                                   "exec"};
  if (tty) argv.emplace_back("--tty");
  for (const auto& env : options.environment) argv.insert(argv.end(), {"--env", env});
  if (!options.cwd.empty()) argv.insert(argv.end(), {"--cwd", options.cwd});
  if (!options.user.empty()) argv.insert(argv.end(), {"--user", options.user});
  argv.push_back(name);
  argv.emplace_back("--");
  argv.insert(argv.end(), options.command.begin(), options.command.end());
  return argv;
}

namespace {

// Writes each file through the mounted root, never outside it (the image may hold symlinks
// such as /etc/resolv.conf -> ../run/...). A file that cannot be written is logged and skipped.
void write_files(const fs::path& rootfs,
                 const std::vector<std::pair<std::string, std::string>>& files) {
  if (files.empty()) return;
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (const auto& [path, text] : files) {
    try {
      const UniqueFd target =
          container::open_or_create_in_root(root.get(), path, container::CreateKind::kFile);
      UniqueFd out(
          ::open(container::fd_path(target.get()).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
      if (!out ||
          ::write(out.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        throw system_error("cannot write " + path, errno);
      }
    } catch (const Error& e) {
      spdlog::warn("{}: {}", rootfs.parent_path().filename().string(), e.what());
    }
  }
}

sockaddr_un socket_address(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof(addr.sun_path)) {
    throw ConfigError("the state directory's path is too long for a socket: " + path.string());
  }
  std::memcpy(addr.sun_path, path.c_str(), path.native().size() + 1);
  return addr;
}

// The socket on which the runtime hands the container's console to its keeper.
UniqueFd listen_on(const fs::path& path) {
  const sockaddr_un addr = socket_address(path);
  fs::remove(path);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) throw system_error("socket", errno);
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(sock.get(), 1) != 0) {
    throw system_error("cannot listen on " + path.string(), errno);
  }
  return sock;
}

// A start that failed before the runtime sent the console: a connection without one ends the
// keeper at once.
void release_keeper(const fs::path& path) {
  const sockaddr_un addr = socket_address(path);
  const UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock) (void)::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
}

}  // namespace

const char* status_name(InstanceStatus status) {
  switch (status) {
    case InstanceStatus::kRunning:
      return "Running";
    case InstanceStatus::kFrozen:
      return "Frozen";
    case InstanceStatus::kStopped:
      break;
  }
  return "Stopped";
}

ContainerBackend::ContainerBackend(fs::path vmm_exe, fs::path runtime_root)
    : vmm_exe_(std::move(vmm_exe)),
      runtime_root_(std::move(runtime_root)),
      runtime_(runtime_root_.string()) {
  fs::create_directories(runtime_root_);
  // Instances' cgroups are apart from plain `vmm oci` containers, and those of one state
  // directory apart from another's (two managers may both have an instance "web").
  const std::string root = fs::weakly_canonical(runtime_root_).string();
  cgroup_parent_ = "vmm.instances-" + short_hash(root);
}

void ContainerBackend::prepare(const fs::path& dir) {
  for (const char* sub : {"upper", "work", "rootfs"}) fs::create_directories(dir / sub);
}

std::vector<std::string> ContainerBackend::runtime_argv(std::vector<std::string> args) const {
  std::vector<std::string> argv = {vmm_exe_.string(), "oci", "--root", runtime_root_.string()};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

bool ContainerBackend::root_mounted(const fs::path& dir) {
  struct stat parent {};
  struct stat root {};
  if (::stat(dir.c_str(), &parent) != 0 || ::stat((dir / "rootfs").c_str(), &root) != 0) {
    return false;
  }
  return parent.st_dev != root.st_dev;
}

void ContainerBackend::mount_root(const fs::path& dir, const fs::path& image_rootfs) {
  if (root_mounted(dir)) return;
  prepare(dir);
  const std::string options = "lowerdir=" + image_rootfs.string() +
                              ",upperdir=" + (dir / "upper").string() +
                              ",workdir=" + (dir / "work").string();
  if (::mount("overlay", (dir / "rootfs").c_str(), "overlay", 0, options.c_str()) != 0) {
    throw system_error("cannot mount the root of " + dir.filename().string(), errno);
  }
}

void ContainerBackend::unmount_root(const fs::path& dir) {
  if (!root_mounted(dir)) return;
  if (::umount2((dir / "rootfs").c_str(), 0) != 0) {
    // Something still holds it (a process that left the container): detach it anyway.
    ::umount2((dir / "rootfs").c_str(), MNT_DETACH);
  }
}

void ContainerBackend::start(const InstanceRecord& record, const fs::path& dir,
                             const fs::path& image_rootfs,
                             const std::vector<std::pair<std::string, std::string>>& files) {
  // A runtime state left by a container that died on its own.
  if (runtime_.store().exists(record.name)) runtime_.remove(record.name, true);
  mount_root(dir, image_rootfs);
  const fs::path rootfs = dir / "rootfs";
  struct stat init {};
  if (::stat((rootfs / "sbin/init").c_str(), &init) != 0) {
    unmount_root(dir);
    throw ConfigError("the image of " + record.name + " has no /sbin/init");
  }
  write_files(rootfs, files);
  {
    std::ofstream out(dir / "config.json", std::ios::trunc);
    out << spec_for(record, cgroup_parent_);
    if (!out.flush()) throw Error("cannot write the bundle of " + record.name);
  }
  const fs::path log = dir / "console.log";
  UniqueFd console(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!console) throw system_error("cannot open " + log.string(), errno);
  const fs::path console_socket = dir / "console.sock";
  const fs::path pid_file = dir / "init.pid";
  fs::remove(pid_file);
  {
    const UniqueFd listener = listen_on(console_socket);
    run_child({vmm_exe_.string(), "console-keeper", log.string(), pid_file.string()},
              ChildIo{.in = listener.get(), .out = console.get(), .err = console.get()});
  }
  const int status = run_child(
      runtime_argv({"run", "--detach", "--console-socket", console_socket.string(), "--pid-file",
                    pid_file.string(), "--bundle", dir.string(), record.name}),
      ChildIo{.in = -1, .out = console.get(), .err = console.get()});
  if (status != 0) {
    release_keeper(console_socket);
    fs::remove(console_socket);
    if (runtime_.store().exists(record.name)) runtime_.remove(record.name, true);
    unmount_root(dir);
    throw Error("cannot start " + record.name + ": " + tail_of(log));
  }
  fs::remove(console_socket);
}

InstanceStatus ContainerBackend::status(const std::string& name) const {
  if (!runtime_.store().exists(name)) return InstanceStatus::kStopped;
  try {
    switch (runtime_.state(name).status) {
      case container::Status::kRunning:
      case container::Status::kCreated:
      case container::Status::kCreating:
        return InstanceStatus::kRunning;
      case container::Status::kPaused:
        return InstanceStatus::kFrozen;
      case container::Status::kStopped:
        break;
    }
  } catch (const Error&) {  // removed while we looked
  }
  return InstanceStatus::kStopped;
}

pid_t ContainerBackend::init_pid(const std::string& name) const {
  if (status(name) == InstanceStatus::kStopped) return 0;
  return runtime_.state(name).record.pid;
}

void ContainerBackend::stop(const std::string& name, const fs::path& dir,
                            std::chrono::milliseconds timeout, bool force) {
  if (runtime_.store().exists(name)) {
    if (status(name) == InstanceStatus::kFrozen) runtime_.resume(name);
    if (!force && status(name) == InstanceStatus::kRunning) {
      try {
        runtime_.kill(name, container::halt_signal(dir / "rootfs"), false);
      } catch (const Error&) {  // it ended on its own meanwhile
      }
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      while (status(name) != InstanceStatus::kStopped &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    // Whatever is left (all of it when forced) is killed; the state goes.
    runtime_.remove(name, true);
  }
  // A keeper still waiting for a console that a killed manager's start never sent ends now.
  if (const fs::path socket = dir / "console.sock"; fs::exists(socket)) {
    release_keeper(socket);
    std::error_code ec;
    fs::remove(socket, ec);
  }
  unmount_root(dir);
  remove_cgroup_parent();
}

void ContainerBackend::remove_cgroup_parent() const {
  // Only an empty parent goes (rmdir refuses one with instances' cgroups below it); the next
  // start makes it again.
  try {
    const container::CgroupLayout layout = container::detect_cgroup_layout();
    if (layout.version == container::CgroupVersion::kV2) {
      ::rmdir((layout.unified_root + "/" + cgroup_parent_).c_str());
    }
    for (const auto& [controller, mount] : layout.v1_mounts) {
      ::rmdir((mount + "/" + cgroup_parent_).c_str());
    }
  } catch (const Error&) {  // no cgroups to tidy
  }
}

void ContainerBackend::freeze(const std::string& name) { runtime_.pause(name); }
void ContainerBackend::unfreeze(const std::string& name) { runtime_.resume(name); }

int ContainerBackend::exec(const std::string& name, const ExecOptions& options) {
  // A missing or non-executable command gets a shell's status and message, not the runtime's.
  if (const int status = command_status(runtime_.state(name).record.rootfs, options); status != 0) {
    const std::string message = command_status_message(options, status);
    if (options.err_fd >= 0) (void)!::write(options.err_fd, message.data(), message.size());
    return status;
  }
  return run_child(exec_argv(vmm_exe_, runtime_root_, name, options, false),
                   ChildIo{.in = -1, .out = options.out_fd, .err = options.err_fd});
}

}  // namespace vmm::instance
