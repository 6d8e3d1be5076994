// `exec`: a new process joins an existing container. It enters the container's namespaces
// (never a cwd or root outside: joining the mount namespace resets both to its root), its
// cgroup, and then goes through the same finalization as init.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "container/launcher.hpp"
#include "container/process_setup.hpp"
#include "container/rootfs_setup.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

struct NsToJoin {
  int type;
  const char* name;
};
constexpr NsToJoin kOrder[] = {{CLONE_NEWUSER, "user"},     {CLONE_NEWIPC, "ipc"},
                               {CLONE_NEWUTS, "uts"},       {CLONE_NEWNET, "net"},
                               {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWNS, "mnt"}};

bool same_namespace(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_ino == sb.st_ino &&
         sa.st_dev == sb.st_dev;
}

}  // namespace

LaunchedContainer launch_exec(pid_t init_pid, const Process& process, const Seccomp* seccomp,
                              const std::string& cgroup_path, int preserve_fds, bool detached) {
  const std::string base = "/proc/" + std::to_string(init_pid) + "/ns/";
  std::vector<std::pair<int, UniqueFd>> joins;
  for (const auto& ns : kOrder) {
    if (same_namespace(base + ns.name, std::string("/proc/self/ns/") + ns.name)) continue;
    UniqueFd fd(::open((base + ns.name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
      throw system_error(std::string("cannot open the container's ") + ns.name + " namespace",
                         errno);
    joins.emplace_back(ns.type, std::move(fd));
  }
  if (!same_namespace(base + "pid", "/proc/self/ns/pid")) {
    UniqueFd pidns(::open((base + "pid").c_str(), O_RDONLY | O_CLOEXEC));
    if (!pidns || ::setns(pidns.get(), CLONE_NEWPID) != 0) {
      throw system_error("cannot join the container's pid namespace", errno);
    }
  }
  LaunchedContainer c;
  auto [runtime_end, init_end] = SyncChannel::make_pair();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw system_error("fork", errno);
  if (pid == 0) {
    runtime_end.close();
    try {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      (void)init_end.expect(SyncMessage::kGo);
      for (auto& [type, fd] : joins) {
        if (::setns(fd.get(), type) != 0)
          throw system_error("cannot join a container namespace", errno);
        fd.reset();
      }
      if (::chdir("/") != 0) throw system_error("chdir /", errno);
      UniqueFd proc(open_verified_proc());
      if (process.terminal) {
        UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!master) throw system_error("cannot open /dev/ptmx in the container", errno);
        int unlock = 0;
        if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) throw system_error("unlockpt", errno);
        UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!slave) throw system_error("cannot open the pty slave", errno);
        init_end.send(SyncMessage::kTerminal, {}, master.get());
        if (::setsid() < 0 || ::ioctl(slave.get(), TIOCSCTTY, 0) != 0)
          throw system_error("controlling tty", errno);
        for (int fd = 0; fd < 3; ++fd) ::dup2(slave.get(), fd);
      }
      const std::string program = prepare_exec(process);
      // A detached process (`exec --detach`, as podman and containerd always ask) outlives the
      // runtime; a foreground one dies with it.
      if (detached) ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
      init_end.send(SyncMessage::kReady);
      finalize_and_exec(process, program, seccomp, preserve_fds);
    } catch (...) {
      init_end.send_current_exception();
    }
    ::_exit(125);
  }
  c.pid = pid;
  init_end.close();
  c.channel = std::move(runtime_end);
  if (!cgroup_path.empty()) {
    Cgroup cg = Cgroup::attach(detect_cgroup_layout(), cgroup_path);
    cg.add_process(pid);
    cg.release();  // the container's cgroup belongs to the container, not to this exec
  }
  c.channel.send(SyncMessage::kGo);
  for (;;) {
    Received r = c.channel.receive();
    if (r.eof) throw Error("exec process exited during setup");
    SyncChannel::rethrow_if_error(r);
    if (r.type == SyncMessage::kTerminal) {
      c.pty_master = std::move(r.fd);
      continue;
    }
    if (r.type == SyncMessage::kReady) break;
  }
  return c;
}

}  // namespace vmm::container
