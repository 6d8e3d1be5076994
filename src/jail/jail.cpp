#include "jail/jail.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <utility>

#include "container/process_setup.hpp"
#include "container/rootfs_setup.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/size.hpp"
#include "vmm/confine/host_network.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace vmm::jail {
namespace {

LockedDownHook g_locked_down_hook = nullptr;

// The directory the jail's tmpfs root is mounted on, in the jail's own mount namespace only
// (nothing of it shows on the host, and every file the VM uses is open by then).
constexpr const char* kRootMountPoint = "/tmp";

// Each jail's cgroup is <this>/<supervisor's pid>.
constexpr const char* kJailCgroupParent = "vmm.jail";

// Character devices vmm opens while it builds the VM (misc majors, Documentation/admin-guide/
// devices.txt): KVM, TUN/TAP and vhost-net.
constexpr std::array<std::pair<int64_t, int64_t>, 3> kVmDevices = {
    {{10, 232}, {10, 200}, {10, 238}}};

std::optional<uint32_t> parse_id(std::string_view text) {
  uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// An allow rule for the device node at `path` when it is one (a disk on a block device, another
// KVM node given with --kvm-device).
void allow_device_at(const std::string& path, std::vector<container::DeviceRule>& rules) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode)) return;
  rules.push_back(container::DeviceRule{.allow = true,
                                        .type = S_ISBLK(st.st_mode) ? 'b' : 'c',
                                        .major = major(st.st_rdev),
                                        .minor = minor(st.st_rdev),
                                        .access = "rw"});
}

// The child's side of enter(): new namespaces, the host's network namespace kept for TAPs.
void enter_namespaces(const JailOptions& options) {
  // The supervisor's end: the jail must not outlive it.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
    throw system_error("PR_SET_PDEATHSIG", errno);
  UniqueFd host_netns(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!host_netns) throw system_error("--jail: cannot open the host's network namespace", errno);
  if (::unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) != 0) {
    throw system_error("--jail: cannot make the namespaces", errno);
  }
  container::set_root_propagation(container::Spec{});
  constexpr std::string_view kHostname = "vmm-jail";
  if (::sethostname(kHostname.data(), kHostname.size()) != 0)
    throw system_error("sethostname", errno);
  confine::keep_host_network_namespace(std::move(host_netns));
  container::clear_bounding_set();
  confine::allow_dropping_to(options.uid, options.gid);
}

// Jails whose supervisor was killed outright (SIGKILL leaves nobody to remove the cgroup): once
// empty, their cgroups go. A cgroup still holding a process refuses rmdir, harmlessly.
void remove_stale_jail_cgroups(const container::CgroupLayout& layout) {
  for (const auto& [controller, dir] : container::cgroup_directories(layout, kJailCgroupParent)) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      const auto pid = parse_id(name);
      if (!pid || !entry.is_directory(ec)) continue;
      if (::kill(static_cast<pid_t>(*pid), 0) == 0 || errno == EPERM) continue;  // it lives
      ::rmdir(entry.path().c_str());
    }
  }
}

void set_limit(int resource, rlim_t value, const char* what) {
  const rlimit limit{value, value};
  if (::setrlimit(resource, &limit) != 0)
    throw system_error(std::string("setrlimit ") + what, errno);
}

}  // namespace

JailOptions parse_jail_user(std::string_view text) {
  const size_t colon = text.find(':');
  const auto uid = parse_id(text.substr(0, colon));
  const auto gid = colon == std::string_view::npos ? uid : parse_id(text.substr(colon + 1));
  if (!uid || !gid)
    throw ConfigError("jail-user",
                      "expected UID or UID:GID (numbers), got '" + std::string(text) + "'");
  if (*uid == 0 || *gid == 0) {
    throw ConfigError("jail-user", "0 is root's; the jail gives root up (e.g. 65534:65534)");
  }
  return JailOptions{.uid = *uid, .gid = *gid};
}

void check_jailable(const VmConfig& config) {
  for (const auto& net : config.nets) {
    if (net.kind == virtio::NetConfig::Kind::kUser) {
      throw ConfigError("jail",
                        "user-mode networking (--net user) makes host sockets for the guest at run "
                        "time, which the jail's network namespace has not; give the VM a TAP");
    }
  }
  if (config.host_exec) {
    throw ConfigError("jail",
                      "--exec serves the host's root file system to the guest; run it unjailed");
  }
}

container::Resources jail_resources(const VmConfig& config) {
  container::Resources r;
  const uint64_t memory =
      config.memory_bytes > std::numeric_limits<int64_t>::max() - kJailMemoryOverhead
          ? std::numeric_limits<int64_t>::max()
          : config.memory_bytes + kJailMemoryOverhead;
  r.memory_limit = static_cast<int64_t>(memory);
  r.memory_swap = static_cast<int64_t>(memory);
  r.pids_limit = kJailPidsLimit;
  r.devices.push_back(container::DeviceRule{
      .allow = false, .type = 'a', .major = std::nullopt, .minor = std::nullopt, .access = "rwm"});
  for (const auto& [maj, min] : kVmDevices) {
    r.devices.push_back(container::DeviceRule{
        .allow = true, .type = 'c', .major = maj, .minor = min, .access = "rw"});
  }
  allow_device_at(config.kvm_device, r.devices);
  for (const auto& disk : config.disks) allow_device_at(disk.path, r.devices);
  for (const auto& rule : container::default_device_allow_rules({})) r.devices.push_back(rule);
  return r;
}

std::vector<std::string> jail_visible_directories(const VmConfig& config) {
  std::set<std::string> dirs;
  if (config.vsock && !config.vsock->socket.empty()) {
    const auto dir = std::filesystem::absolute(config.vsock->socket).parent_path();
    if (dir != "/") dirs.insert(dir.lexically_normal().string());
  }
  return {dirs.begin(), dirs.end()};
}

void set_locked_down_hook(LockedDownHook hook) noexcept { g_locked_down_hook = hook; }

Jail Jail::enter(const VmConfig& config, const JailOptions& options) {
  if (::geteuid() != 0) {
    throw ConfigError("jail", "needs root: it makes namespaces and a cgroup, then drops to uid " +
                                  std::to_string(options.uid));
  }
  Jail jail;
  jail.options_ = options;
  jail.visible_directories_ = jail_visible_directories(config);
  const container::Resources resources = jail_resources(config);
  jail.memory_limit_ = static_cast<uint64_t>(resources.memory_limit.value_or(0));
  const container::CgroupLayout layout = container::detect_cgroup_layout();
  remove_stale_jail_cgroups(layout);
  jail.cgroup_ = container::Cgroup::create(
      layout, std::string(kJailCgroupParent) + "/" + std::to_string(::getpid()), resources);
  std::array<int, 2> go{-1, -1};
  if (::pipe2(go.data(), O_CLOEXEC) != 0) throw system_error("pipe", errno);
  UniqueFd go_read(go[0]);
  UniqueFd go_write(go[1]);
  std::array<int, 2> report{-1, -1};
  if (::pipe2(report.data(), O_CLOEXEC) != 0) throw system_error("pipe", errno);
  UniqueFd report_read(report[0]);
  UniqueFd report_write(report[1]);
  // The next child is the first process of a new pid namespace; then this process makes its
  // children in its own again (a later jail, after a reboot, needs a namespace of its own).
  const UniqueFd own_pid_ns(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
  if (!own_pid_ns) throw system_error("--jail: cannot open this pid namespace", errno);
  if (::unshare(CLONE_NEWPID) != 0) {
    throw system_error("--jail: cannot make a pid namespace", errno);
  }
  const pid_t pid = ::fork();
  if (pid < 0) throw system_error("fork", errno);
  if (pid == 0) {
    jail.cgroup_.release();  // the supervisor's to remove
    jail.child_ = 0;
    go_write.reset();
    report_read.reset();
    jail.report_ = std::move(report_write);
    // Nothing happens before the cgroup holds this process.
    char byte = 0;
    if (::read(go_read.get(), &byte, 1) != 1) ::_exit(1);
    go_read.reset();
    enter_namespaces(options);
    return jail;
  }
  jail.child_ = pid;
  if (::setns(own_pid_ns.get(), CLONE_NEWPID) != 0) {
    throw system_error("--jail: cannot return to this pid namespace", errno);
  }
  go_read.reset();
  report_write.reset();
  jail.report_ = std::move(report_read);
  jail.cgroup_.add_process(pid);  // on failure the child reads EOF and ends
  const char byte = 1;
  if (::write(go_write.get(), &byte, 1) != 1)
    throw system_error("--jail: cannot start the jail", errno);
  spdlog::debug("jail: vmm runs as pid {} in cgroup {}", pid, jail.cgroup_.relative());
  return jail;
}

Jail::Jail(Jail&& other) noexcept
    : child_(std::exchange(other.child_, -1)),
      options_(other.options_),
      cgroup_(std::move(other.cgroup_)),
      visible_directories_(std::move(other.visible_directories_)),
      memory_limit_(other.memory_limit_),
      locked_down_(other.locked_down_),
      report_(std::move(other.report_)),
      guest_rebooted_(other.guest_rebooted_) {}

Jail::~Jail() {
  if (child_ <= 0) return;
  // Not supervised to its end (an error in the parent): the jail goes with it.
  ::kill(child_, SIGKILL);
  int status = 0;
  while (::waitpid(child_, &status, 0) < 0 && errno == EINTR) {
  }
  cgroup_.destroy();
}

void Jail::lock_down() {
  if (!in_jail() || locked_down_) throw StateError("lock_down: not in a jail, or done already");
  confine::keep_host_network_namespace(UniqueFd{});
  // The directories to show, opened before the tmpfs covers anything they are under.
  std::vector<UniqueFd> sources;
  container::Spec spec;
  spec.root_readonly = true;
  spec.mounts.push_back(
      container::Mount{"/proc", "proc", "proc", {"nosuid", "noexec", "nodev", "subset=pid"}});
  spec.mounts.push_back(container::Mount{
      "/dev", "tmpfs", "tmpfs", {"nosuid", "noexec", "mode=755", "size=64k", "nr_inodes=64"}});
  for (const auto& dir : visible_directories_) {
    UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw system_error("--jail: cannot open " + dir, errno);
    spec.mounts.push_back(container::Mount{dir,
                                           "bind",
                                           "/proc/self/fd/" + std::to_string(fd.get()),
                                           {"rbind", "nosuid", "noexec", "nodev"}});
    sources.push_back(std::move(fd));
  }
  if (::mount("tmpfs", kRootMountPoint, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=755,size=1m,nr_inodes=256") != 0) {
    throw system_error(std::string("--jail: cannot mount the root on ") + kRootMountPoint, errno);
  }
  container::prepare_rootfs(spec, kRootMountPoint, "");
  sources.clear();
  container::pivot_into(kRootMountPoint);
  container::finish_rootfs(spec);
  set_limit(RLIMIT_NOFILE, kJailOpenFilesLimit, "RLIMIT_NOFILE");
  set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE");  // a core would hold guest memory
  container::drop_to_user(container::User{
      .uid = options_.uid, .gid = options_.gid, .additional_gids = {}, .umask = std::nullopt});
  // Changing credentials cleared the parent-death signal: arm it again, and end now if the
  // supervisor went in between (the report pipe's reader is gone then).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    throw system_error("PR_SET_PDEATHSIG", errno);
  }
  pollfd supervisor{report_.get(), 0, 0};
  if (::poll(&supervisor, 1, 0) == 1 && (supervisor.revents & POLLERR) != 0) ::_exit(1);
  confine::dropping_done();
  locked_down_ = true;
  spdlog::info("jail: locked down as uid {} gid {}, no capabilities, {} of memory at most",
               options_.uid, options_.gid, format_size(memory_limit_));
  if (g_locked_down_hook != nullptr) g_locked_down_hook();
}

int Jail::supervise(int signal_fd, const std::function<std::optional<int>()>& take_signal) {
  if (child_ <= 0) throw StateError("supervise: not the jail's supervisor");
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child_, 0)));
  if (!pidfd) throw system_error("pidfd_open", errno);
  for (;;) {
    std::array<pollfd, 2> fds{{{pidfd.get(), POLLIN, 0}, {signal_fd, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw system_error("poll", errno);
    }
    if ((fds[1].revents & POLLIN) != 0) {
      if (const auto sig = take_signal()) ::kill(child_, *sig);
    }
    if ((fds[0].revents & POLLIN) != 0) break;
  }
  int status = 0;
  while (::waitpid(child_, &status, 0) < 0) {
    if (errno != EINTR) throw system_error("waitpid", errno);
  }
  child_ = -1;
  char told = 0;
  guest_rebooted_ = ::read(report_.get(), &told, 1) == 1 && told == 'R';
  const auto dirs = cgroup_.directories();
  cgroup_.destroy();
  // The parent of every jail's cgroup goes with the last of them.
  for (const auto& [controller, dir] : dirs) {
    ::rmdir(std::filesystem::path(dir).parent_path().c_str());
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

void Jail::report_guest_reboot() noexcept {
  if (!in_jail() || !report_) return;
  const char told = 'R';
  [[maybe_unused]] const auto written = ::write(report_.get(), &told, 1);
}

}  // namespace vmm::jail
