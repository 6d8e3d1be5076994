#include "container/launcher.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "container/hooks.hpp"
#include "container/id_mapping.hpp"
#include "container/image_mount.hpp"
#include "container/path_in_root.hpp"
#include "container/process_setup.hpp"
#include "container/rootfs_setup.hpp"
#include "container/state_store.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

// Namespaces joined by path, in an order where each join is still permitted: the user
// namespace first (it grants the rights for the rest), the mount namespace last (it changes
// what paths mean).
constexpr int kJoinOrder[] = {CLONE_NEWUSER,   CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWNET,
                              CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_NEWNS};

void write_proc_file(pid_t pid, const char* file, const std::string& text) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw system_error("cannot open " + path, errno);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n < 0 || static_cast<size_t>(n) != text.size())
    throw system_error("cannot write " + path, err);
}

void join_namespace(const Namespace& ns) {
  UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw ConfigError("cannot open namespace " + ns.path + ": " + std::strerror(errno));
  if (::setns(fd.get(), ns.type) != 0) {
    throw system_error(
        "cannot join " + std::string(namespace_name(ns.type)) + " namespace " + ns.path, errno);
  }
}

std::string hook_state(const Spec& spec, const LaunchOptions& o, pid_t pid, Status status) {
  ContainerRecord rec;
  rec.id = o.id;
  rec.pid = pid;
  rec.bundle = o.bundle;
  rec.rootfs = spec.root_path;
  rec.annotations = spec.annotations;
  return state_json(rec, status);
}

// Opens a pty from the container's own devpts and makes it the controlling terminal and
// stdio. Returns the master for the runtime.
UniqueFd setup_console(const Process& p) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) throw system_error("cannot open /dev/ptmx in the container", errno);
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) throw system_error("unlockpt", errno);
  // TIOCGPTPEER opens the slave through the master, without a path lookup.
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) throw system_error("cannot open the pty slave", errno);
  if (p.console_height && p.console_width) {
    winsize ws{p.console_height, p.console_width, 0, 0};
    ::ioctl(slave.get(), TIOCSWINSZ, &ws);
  }
  // /dev/console is the same terminal.
  const int console = ::open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (console >= 0) {
    ::close(console);
    const std::string slave_path = fd_path(slave.get());
    if (::mount(slave_path.c_str(), "/dev/console", nullptr, MS_BIND, nullptr) != 0) {
      throw system_error("cannot bind /dev/console", errno);
    }
  }
  if (::setsid() < 0) throw system_error("setsid", errno);
  if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) throw system_error("TIOCSCTTY", errno);
  for (int fd = 0; fd < 3; ++fd) {
    if (::dup2(slave.get(), fd) < 0) throw system_error("dup2 pty", errno);
  }
  return master;
}

// A namespace joined by path may be the runtime's own (the host's): then sysctls and the
// hostname would change the host, and are refused as runc refuses them.
void refuse_host_namespace_settings(const Spec& spec) {
  const auto is_hosts = [&spec](int type, const char* name) {
    const Namespace* ns = spec.find_namespace(type);
    if (ns == nullptr || ns->path.empty()) return false;
    struct stat joined {};
    struct stat own {};
    return ::stat(ns->path.c_str(), &joined) == 0 &&
           ::stat((std::string("/proc/self/ns/") + name).c_str(), &own) == 0 &&
           joined.st_ino == own.st_ino && joined.st_dev == own.st_dev;
  };
  for (const auto& [key, value] : spec.linux_config.sysctl) {
    const int type = sysctl_namespace(key);
    const char* name = type == CLONE_NEWNET ? "net" : type == CLONE_NEWIPC ? "ipc" : "uts";
    if (is_hosts(type, name)) {
      throw ConfigError("config.json: linux.sysctl." + key + ": the " + name +
                        " namespace it would change is the host's");
    }
  }
  if (!spec.hostname.empty() && is_hosts(CLONE_NEWUTS, "uts")) {
    throw ConfigError("config.json: hostname: the uts namespace it would change is the host's");
  }
}

[[noreturn]] void init_main(const Spec& spec, const LaunchOptions& o, const SyncChannel& ch,
                            pid_t runtime_pid, int exec_fifo) noexcept {
  bool detached = false;  // `create` has returned: nobody reads the channel any more
  // The exec fifo, held open (close-on-exec) once `start` has read its byte: `start` waits for
  // it to close at execve, and reads here why the container died instead.
  UniqueFd start_report;
  try {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // In a new or joined PID namespace the parent is outside it and getppid() says 0.
    if (::getppid() != runtime_pid && spec.find_namespace(CLONE_NEWPID) == nullptr) ::_exit(1);

    Received go = ch.expect(SyncMessage::kGo);
    // Until it execs, init must be neither ptrace-able nor have its /proc/PID/exe opened by
    // anything already in the container (the runtime binary is the prize). Only now: a
    // non-dumpable task's /proc files belong to root, and an unprivileged runtime must first
    // be able to write our uid_map/gid_map.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (spec.has_new_namespace(CLONE_NEWUSER)) {
      if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) {
        throw system_error("cannot become root in the user namespace", errno);
      }
    }
    for (int type : kJoinOrder) {
      const Namespace* ns = spec.find_namespace(type);
      if (ns && !ns->path.empty()) join_namespace(*ns);
    }
    int unshare_flags = 0;
    for (int type : {CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWNS}) {
      if (spec.has_new_namespace(type)) unshare_flags |= type;
    }
    if (unshare_flags && ::unshare(unshare_flags) != 0) throw system_error("unshare", errno);
    std::string rootfs = spec.root_path;
    if (spec.has_new_namespace(CLONE_NEWNS)) {
      set_root_propagation(spec);
      // Before joining the cgroup: its device rules would refuse opening the loop device.
      if (!o.image.empty()) rootfs = mount_image_rootfs(o.image, o.state_dir + "/image");
    }

    ch.send(SyncMessage::kNamespacesReady);
    go = ch.expect(SyncMessage::kGo);
    const pid_t host_pid = static_cast<pid_t>(std::atol(go.payload.c_str()));
    // The runtime has placed us in our cgroup by now; the new cgroup namespace is rooted there.
    if (spec.has_new_namespace(CLONE_NEWCGROUP) && ::unshare(CLONE_NEWCGROUP) != 0) {
      throw system_error("unshare cgroup namespace", errno);
    }

    if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
      throw system_error("sethostname", errno);
    }
    if (spec.has_new_namespace(CLONE_NEWNET)) {
      bring_up_loopback();
      if (o.veth) {
        // The runtime chose the addresses from the host's view; "<pid> <host> <container>".
        VethPlan plan;
        unsigned long pid_ignored = 0, host = 0, mine = 0;
        if (std::sscanf(go.payload.c_str(), "%lu %lu %lu", &pid_ignored, &host, &mine) != 3) {
          throw Error("veth addresses missing");
        }
        plan.host_address = static_cast<uint32_t>(host);
        plan.container_address = static_cast<uint32_t>(mine);
        configure_container_veth(plan);
      }
    }
    if (spec.has_new_namespace(CLONE_NEWNS)) prepare_rootfs(spec, rootfs, o.cgroup_path);
    run_hooks(spec.hooks.create_container, hook_state(spec, o, host_pid, Status::kCreating),
              "createContainer");
    if (spec.has_new_namespace(CLONE_NEWNS)) {
      pivot_into(rootfs);
      apply_root_propagation(spec);
      finish_rootfs(spec);
    }
    if (spec.process.terminal) {
      UniqueFd master = setup_console(spec.process);
      ch.send(SyncMessage::kTerminal, {}, master.get());
    }
    // Failures here belong to `create` (a missing executable is a create error, as in runc).
    const std::string program = prepare_exec(spec.process);
    // Otherwise (a foreground run) the container dies with the runtime, even after exec.
    if (o.wait_for_start || o.outlives_runtime) ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    ch.send(SyncMessage::kReady);
    detached = o.wait_for_start;
    if (o.wait_for_start) {
      // Blocks until `start` opens the fifo for reading.
      UniqueFd w(::open(fd_path(exec_fifo).c_str(), O_WRONLY | O_CLOEXEC));
      if (!w) throw system_error("cannot open the exec fifo for writing", errno);
      if (::write(w.get(), "0", 1) != 1) throw system_error("exec fifo write", errno);
      start_report = std::move(w);
    }
    run_hooks(spec.hooks.start_container, hook_state(spec, o, host_pid, Status::kCreated),
              "startContainer");
    finalize_and_exec(spec.process, program, o.seccomp, o.preserve_fds);
  } catch (const std::exception& e) {
    ch.send_current_exception();
    // Say it where the container's output goes, and to `start`.
    if (detached) std::fprintf(stderr, "vmm: container init: %s\n", e.what());
    if (start_report) (void)!::write(start_report.get(), e.what(), std::strlen(e.what()));
  }
  ::_exit(125);
}

}  // namespace

LaunchedContainer::~LaunchedContainer() {
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (veth) delete_link(veth->host_name);
}

void LaunchedContainer::wait_for_exec() {
  const Received r = channel.receive();
  SyncChannel::rethrow_if_error(r);
  channel.close();
}

void LaunchedContainer::release() noexcept {
  pid = -1;
  cgroup.release();
  veth.reset();
  channel.close();
}

void fill_default_id_mappings(Spec& spec) {
  if (!spec.has_new_namespace(CLONE_NEWUSER)) return;
  auto& l = spec.linux_config;
  if (l.uid_mappings.empty()) l.uid_mappings = rootless_mapping(::geteuid());
  if (l.gid_mappings.empty()) l.gid_mappings = rootless_mapping(::getegid());
}

LaunchedContainer launch(const Spec& spec, const LaunchOptions& o) {
  if (o.image.empty()) {
    struct stat st {};
    if (::stat(spec.root_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw ConfigError("root file system " + spec.root_path +
                        " does not exist or is not a directory");
    }
  } else if (::geteuid() != 0) {
    throw ConfigError("--image needs root (loop devices)");
  }
  if (spec.has_new_namespace(CLONE_NEWUSER)) {
    validate_id_mappings(spec.linux_config.uid_mappings, "linux.uidMappings");
    validate_id_mappings(spec.linux_config.gid_mappings, "linux.gidMappings");
    if (spec.linux_config.uid_mappings.empty())
      throw ConfigError("a new user namespace needs uid mappings");
  }
  if (spec.find_namespace(CLONE_NEWTIME)) {
    // A time namespace only applies to children of the process that enters it; init would
    // stay outside. Refuse rather than pretend.
    throw ConfigError("config.json: linux.namespaces: the time namespace is not supported");
  }
  refuse_host_namespace_settings(spec);
  // An unsupported mount option is a create error, before anything exists.
  for (const Mount& m : spec.mounts) (void)parse_mount_options(m.options);
  if (o.veth && !spec.has_new_namespace(CLONE_NEWNET))
    throw ConfigError("--net veth needs a new network namespace");

  LaunchedContainer c;
  Resources resources = spec.linux_config.resources;
  if (!resources.devices.empty()) {
    for (const auto& rule : default_device_allow_rules(spec.linux_config.devices))
      resources.devices.push_back(rule);
  }
  const CgroupLayout cgroup_layout =
      o.cgroup_path.empty() ? CgroupLayout{} : detect_cgroup_layout();
  UniqueFd exec_fifo;  // inherited by init through the clone
  if (o.wait_for_start) {
    const std::string fifo = o.state_dir + "/exec.fifo";
    if (::mkfifo(fifo.c_str(), 0600) != 0) throw system_error("mkfifo " + fifo, errno);
    // Init opens it through this descriptor (the state directory is the runtime's alone), as
    // the container's root, which in a user namespace is some other host uid.
    if (spec.has_new_namespace(CLONE_NEWUSER)) {
      const auto host_of_root = [](const std::vector<IdMapping>& maps) -> std::optional<uint32_t> {
        for (const auto& m : maps) {
          if (m.container_id == 0 && m.size > 0) return m.host_id;
        }
        return std::nullopt;
      };
      const auto uid = host_of_root(spec.linux_config.uid_mappings);
      const auto gid = host_of_root(spec.linux_config.gid_mappings);
      if (uid && gid && ::chown(fifo.c_str(), *uid, *gid) != 0) {
        throw system_error("chown " + fifo, errno);
      }
    }
    exec_fifo.reset(::open(fifo.c_str(), O_PATH | O_CLOEXEC));
    if (!exec_fifo) throw system_error("cannot open " + fifo, errno);
  }
  auto [runtime_end, init_end] = SyncChannel::make_pair();
  if (const Namespace* pidns = spec.find_namespace(CLONE_NEWPID); pidns && !pidns->path.empty()) {
    join_namespace(*pidns);  // affects only the children we create from now on
  }
  unsigned long flags = SIGCHLD;
  if (spec.has_new_namespace(CLONE_NEWUSER)) flags |= CLONE_NEWUSER;
  if (spec.has_new_namespace(CLONE_NEWPID)) flags |= CLONE_NEWPID;
  const pid_t runtime_pid = ::getpid();
  std::fflush(nullptr);
  // A fork-like clone: the child continues on a copy of this stack, in its new namespaces.
  const long rc = ::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr);
  if (rc < 0) throw system_error("cannot create the container's namespaces (clone)", errno);
  if (rc == 0) {
    runtime_end.close();
    init_main(spec, o, init_end, runtime_pid, exec_fifo.get());
  }
  c.pid = static_cast<pid_t>(rc);
  init_end.close();
  c.channel = std::move(runtime_end);

  if (spec.has_new_namespace(CLONE_NEWUSER)) {
    if (::geteuid() != 0) write_proc_file(c.pid, "setgroups", "deny");
    write_proc_file(c.pid, "uid_map", format_id_map(spec.linux_config.uid_mappings));
    write_proc_file(c.pid, "gid_map", format_id_map(spec.linux_config.gid_mappings));
  }
  c.channel.send(SyncMessage::kGo);
  // Made while init unshares its namespaces (on another CPU); init joins it before it does
  // anything else, and a failure here kills it with the rest of `c`.
  if (!o.cgroup_path.empty()) c.cgroup = Cgroup::create(cgroup_layout, o.cgroup_path, resources);
  c.channel.expect(SyncMessage::kNamespacesReady);
  if (!c.cgroup.empty()) c.cgroup.add_process(c.pid);
  std::string go = std::to_string(c.pid);
  if (o.veth) {
    c.veth = plan_veth(o.id + ":" + std::to_string(c.pid));
    create_veth(*c.veth, c.pid);
    go += " " + std::to_string(c.veth->host_address) + " " +
          std::to_string(c.veth->container_address);
  }
  const std::string state = hook_state(spec, o, c.pid, Status::kCreating);
  run_hooks(spec.hooks.prestart, state, "prestart");
  run_hooks(spec.hooks.create_runtime, state, "createRuntime");
  c.channel.send(SyncMessage::kGo, go);
  for (;;) {
    Received r = c.channel.receive();
    if (r.eof) throw Error("container init exited during setup");
    SyncChannel::rethrow_if_error(r);
    if (r.type == SyncMessage::kTerminal) {
      c.pty_master = std::move(r.fd);
      continue;
    }
    if (r.type == SyncMessage::kReady) break;
    throw Error("container init sent an unexpected message");
  }
  return c;
}

}  // namespace vmm::container
