// Container mode, end to end: runs the real runtime as root on a busybox root file system
// built by firmware/build-busybox-rootfs.sh. Every escape test performs the attack.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "container/cgroup.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Result {
  int status = -1;  // exit code, or 128 + signal
  std::string out;
  std::string err;
  double cpu_s = 0;  // user + sys of the runtime and everything it waited for
};

struct RunOptions {
  std::string cwd;
  int leak_fd = -1;  // dup an open host directory onto this fd number, without CLOEXEC
  uid_t uid = 0;     // non-zero: drop to this uid/gid before exec
  int timeout_s = 60;
  std::string argv0;  // run under this name (a symlink)
  // Output through files instead of pipes: for `create`, whose init keeps the runtime's stdio
  // open (as runc's does), so reading a pipe to its end would wait for the container.
  bool output_to_files = false;
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Container : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(::geteuid(), 0U) << "the container integration tests run as root";
    // Containers whose runtime exited (oci create) are re-parented to us, so we can reap them.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    std::string tmpl = (fs::temp_directory_path() / "vmm-ctr-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    ::chmod(base_.c_str(), 0755);  // the rootless test runs as nobody
    const char* src = std::getenv("VMM_SOURCE_DIR");
    ASSERT_NE(src, nullptr) << "VMM_SOURCE_DIR must point at the repository";
    const std::string script = std::string(src) + "/firmware/build-busybox-rootfs.sh";
    const std::string cmd = script + " --bundle --image " + (base_ / "rootfs.img").string() + " " +
                            (base_ / "bundle").string() + " >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    // A private copy of the runtime that the unprivileged user can execute.
    fs::copy_file(VMM_CONTAINER_DRIVER, base_ / "vmm", fs::copy_options::overwrite_existing);
    ::chmod((base_ / "vmm").c_str(), 0755);
    runtime_ = (base_ / "vmm").string();
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  static fs::path rootfs() { return base_ / "bundle" / "rootfs"; }
  static std::string oci_root() { return (base_ / "oci-state").string(); }

  static Result run(std::vector<std::string> args, const RunOptions& o = {}) {
    if (o.output_to_files) {
      const fs::path out = base_ / "run.out";
      const fs::path err = base_ / "run.err";
      RunOptions plain = o;
      plain.output_to_files = false;
      std::vector<std::string> shell = {
          "/bin/sh", "-c", "exec \"$0\" \"$@\" >" + out.string() + " 2>" + err.string()};
      const std::string self = o.argv0.empty() ? runtime_ : o.argv0;
      shell.push_back(self);
      shell.insert(shell.end(), args.begin(), args.end());
      plain.argv0 = "/bin/sh";
      Result r = run(std::vector<std::string>(shell.begin() + 1, shell.end()), plain);
      r.out = read_all(out);
      r.err = read_all(err);
      return r;
    }
    std::array<int, 2> out{}, err{};
    if (::pipe2(out.data(), O_CLOEXEC) != 0 || ::pipe2(err.data(), O_CLOEXEC) != 0) return {};
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      const int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, 0);
      if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) ::_exit(90);
      if (o.leak_fd >= 0) {
        const int host = ::open("/etc", O_RDONLY | O_DIRECTORY);  // no O_CLOEXEC: it would leak
        ::dup2(host, o.leak_fd);
      }
      if (o.uid != 0) {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(o.uid, o.uid, o.uid) != 0 ||
            ::setresuid(o.uid, o.uid, o.uid) != 0) {
          ::_exit(91);
        }
        ::unsetenv("XDG_RUNTIME_DIR");
      }
      std::vector<char*> argv;
      std::string argv0 = o.argv0.empty() ? runtime_ : o.argv0;
      argv.push_back(argv0.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv0.c_str(), argv.data());
      ::_exit(92);
    }
    ::close(out[1]);
    ::close(err[1]);
    Result r;
    std::array<pollfd, 2> fds{{{out[0], POLLIN, 0}, {err[0], POLLIN, 0}}};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
    int open_fds = 2;
    while (open_fds > 0) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (left <= 0) {
        ::kill(pid, SIGKILL);
        ADD_FAILURE() << "timed out";
        break;
      }
      if (::poll(fds.data(), fds.size(), left) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
        char buf[4096];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
        }
      }
    }
    for (auto& f : fds) {
      if (f.fd >= 0) ::close(f.fd);
    }
    int status = 0;
    rusage ru{};
    ::wait4(pid, &status, 0, &ru);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return r;
  }

  static Result crun(std::vector<std::string> flags, std::vector<std::string> cmd,
                     const RunOptions& o = {}) {
    std::vector<std::string> args = {"container", "run", "--rootfs", rootfs().string()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), cmd.begin(), cmd.end());
    return run(args, o);
  }

  static Result oci(std::vector<std::string> args, const RunOptions& o = {}) {
    args.insert(args.begin(), {"oci", "--root", oci_root()});
    return run(args, o);
  }

  // A bundle whose config.json is the default one edited by `edit`, rootfs shared.
  static fs::path make_bundle(const std::string& name, const std::function<void(json&)>& edit) {
    const fs::path dir = base_ / name;
    fs::create_directories(dir);
    json cfg = json::parse(read_all(base_ / "bundle" / "config.json"));
    cfg["root"]["path"] = rootfs().string();
    edit(cfg);
    std::ofstream(dir / "config.json") << cfg.dump(2);
    return dir;
  }

  static bool leftover_cgroup(const std::string& relative) {
    for (const char* c : {"memory", "pids", "cpu", "devices"}) {
      if (fs::exists(fs::path("/sys/fs/cgroup") / c / relative)) return true;
    }
    return fs::exists(fs::path("/sys/fs/cgroup") / relative / "cgroup.procs");
  }

  // `container run` names its cgroups vmm/run-*; after exit none may remain.
  static bool run_cgroups_left() {
    for (const char* c : {"memory", "pids", "cpu"}) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(fs::path("/sys/fs/cgroup") / c / "vmm", ec)) {
        if (e.is_directory() && e.path().filename().string().rfind("run-", 0) == 0) return true;
      }
    }
    return false;
  }

  static bool vmm_interfaces_left() {
    bool found = false;
    if (struct if_nameindex* names = ::if_nameindex()) {
      for (auto* i = names; i->if_index != 0; ++i)
        found = found || std::string(i->if_name).rfind("vmm", 0) == 0;
      ::if_freenameindex(names);
    }
    return found;
  }

  static inline fs::path base_;
  static inline std::string runtime_;
};

TEST_F(Container, PidOneIsTheCommandAndHostProcessesAreInvisible) {
  const Result r = crun(
      {}, {"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; set -- /proc/[0-9]*; echo $#"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string cmdline, count;
  std::getline(lines, cmdline);
  std::getline(lines, count);
  EXPECT_EQ(cmdline.rfind("sh -c cat /proc/1/cmdline", 0), 0U) << cmdline;
  EXPECT_LE(std::stoi(count), 3) << "host processes are visible";
  const Result self =
      crun({}, {"sh", "-c",
                "test -e /proc/" + std::to_string(::getpid()) + " && echo visible || echo hidden"});
  EXPECT_EQ(self.out, ::getpid() <= 3 ? self.out : "hidden\n");
}

TEST_F(Container, HostnameAndExitStatus) {
  Result r = crun({"--hostname", "box-17"}, {"hostname"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "box-17\n");
  r = crun({}, {"sh", "-c", "exit 42"});
  EXPECT_EQ(r.status, 42);
  // A signal that kills the command becomes 128 + signal.
  r = crun({}, {"sh", "-c", "sh -c 'kill -9 $$'; exit $?"});
  EXPECT_EQ(r.status, 137);
}

TEST_F(Container, SignalsAreForwardedToTheContainer) {
  std::array<int, 2> out{};
  ASSERT_EQ(::pipe2(out.data(), O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execl(runtime_.c_str(), runtime_.c_str(), "container", "run", "--rootfs", rootfs().c_str(),
            "--", "sh", "-c",
            "trap 'echo got-term; exit 5' TERM; echo ready; while :; do sleep 0.1; done", nullptr);
    ::_exit(99);
  }
  ::close(out[1]);
  std::string text;
  char buf[64];
  while (text.find("ready") == std::string::npos) {
    const ssize_t n = ::read(out[0], buf, sizeof(buf));
    ASSERT_GT(n, 0);
    text.append(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5);
  EXPECT_NE(text.find("got-term"), std::string::npos) << text;
}

TEST_F(Container, TtyGivesAnInteractiveTerminal) {
  const Result r =
      crun({"--tty"},
           {"sh", "-c", "tty; test -t 0 && test -t 1 && echo interactive; ls -l /dev/console"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("/dev/pts/0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("interactive"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("136,"), std::string::npos) << "/dev/console is not the pty: " << r.out;
}

TEST_F(Container, EnvWorkdirAndUser) {
  const Result r =
      crun({"--env", "GREETING=hi there", "--workdir", "/tmp", "--user", "65534:65534"},
           {"sh", "-c", "echo \"$GREETING\"; pwd; id -u; id -g"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hi there\n/tmp\n65534\n65534\n");
}

TEST_F(Container, MemoryLimitKillsAndIsReported) {
  const Result r =
      crun({"--memory", "32M"}, {"dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"});
  EXPECT_EQ(r.status, 137) << r.err;
  EXPECT_NE(r.err.find("exceeded its memory limit"), std::string::npos) << r.err;
  // Under the limit the same program is fine.
  const Result ok =
      crun({"--memory", "64M"}, {"dd", "if=/dev/zero", "of=/dev/null", "bs=8M", "count=1"});
  EXPECT_EQ(ok.status, 0) << ok.err;
}

TEST_F(Container, PidsLimitStopsAForkBomb) {
  const auto start = std::chrono::steady_clock::now();
  const Result r =
      crun({"--pids", "16"},
           {"sh", "-c",
            "bomb() { bomb | bomb & }; bomb 2>/dev/null; sleep 2; set -- /proc/[0-9]*; echo $#"});
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_FALSE(r.out.empty()) << r.err;
  EXPECT_LE(std::stoi(r.out), 16) << "the pids limit did not hold";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_FALSE(run_cgroups_left());
}

TEST_F(Container, CpuQuotaHoldsABusyLoopNearCpus) {
  const Result r =
      crun({"--cpus", "0.5"}, {"sh", "-c", "timeout -s KILL 3 sh -c 'while :; do :; done'; true"});
  ASSERT_EQ(r.status, 0) << r.err;
  // 3 s of wall time at 0.5 CPU: about 1.5 s of CPU. Without the quota it would be ~3 s.
  EXPECT_LT(r.cpu_s, 2.1) << "the quota did not hold";
  EXPECT_GT(r.cpu_s, 0.5) << "the loop barely ran";
}

TEST_F(Container, ReadOnlyRootRefusesWrites) {
  const Result ro = crun({"--read-only"}, {"touch", "/probe"});
  EXPECT_NE(ro.status, 0);
  EXPECT_NE(ro.err.find("Read-only file system"), std::string::npos) << ro.err;
  EXPECT_FALSE(fs::exists(rootfs() / "probe"));
  // /tmp-like mounts the container gets (/dev/shm) stay writable.
  const Result shm = crun({"--read-only"}, {"touch", "/dev/shm/probe"});
  EXPECT_EQ(shm.status, 0) << shm.err;
}

TEST_F(Container, ImageIsMountedReadOnlyAndLeftByteIdentical) {
  const fs::path image = base_ / "rootfs.img";
  const std::string before = read_all(image);
  const std::string mounts_before = read_all("/proc/self/mountinfo");
  const Result r = run({"container", "run", "--image", image.string(), "--", "sh", "-c",
                        "echo written > /etc/new; cat /etc/new; cat /etc/hostname"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "written\nvmm-busybox\n");
  EXPECT_TRUE(read_all(image) == before) << "the image changed";
  // No loop device still holds the image, no mount of it is left.
  for (const auto& e : fs::directory_iterator("/sys/block")) {
    const fs::path backing = e.path() / "loop" / "backing_file";
    if (fs::exists(backing)) {
      EXPECT_EQ(read_all(backing).find(image.string()), std::string::npos) << e.path();
    }
  }
  EXPECT_EQ(read_all("/proc/self/mountinfo"), mounts_before) << "a mount was left behind";
}

TEST_F(Container, VethNetworkingReachesTheHost) {
  const int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(srv, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(srv, 1), 0);
  const int port = ntohs(addr.sin_port);
  std::string received;
  std::thread server([&] {
    pollfd p{srv, POLLIN, 0};
    if (::poll(&p, 1, 20000) <= 0) return;
    const int c = ::accept(srv, nullptr, nullptr);
    char buf[64];
    ssize_t n;
    while ((n = ::read(c, buf, sizeof(buf))) > 0) received.append(buf, static_cast<size_t>(n));
    ::close(c);
  });
  const Result r = crun({"--net", "veth"},
                        {"sh", "-c",
                         "gw=$(ip route | awk '/default/ {print $3}'); echo hello-from-container | "
                         "nc -w 3 $gw " +
                             std::to_string(port) + "; ip -4 addr show eth0 | grep -c inet"});
  server.join();
  ::close(srv);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(received, "hello-from-container\n");
  EXPECT_FALSE(vmm_interfaces_left()) << "the host end of the veth pair was left behind";
}

TEST_F(Container, NetNoneHasOnlyLoopback) {
  const Result r = crun({}, {"sh", "-c", "ls /sys/class/net"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "lo\n");
}

TEST_F(Container, HardeningIsInPlace) {
  const Result r = crun(
      {}, {"sh", "-c",
           "grep -E '^(CapInh|CapAmb|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
           "cat /proc/timer_list 2>&1 | wc -c; echo 1 > /proc/sys/kernel/panic 2>&1 || echo ro"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("CapInh:\t0000000000000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapAmb:\t0000000000000000"), std::string::npos);
  EXPECT_NE(r.out.find("CapBnd:\t00000000a80425fb"), std::string::npos)
      << "bounding set is not the default set";
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos);
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos);
  EXPECT_NE(r.out.find("\n0\n"), std::string::npos) << "/proc/timer_list is not masked";
  EXPECT_NE(r.out.find("ro"), std::string::npos);
  // The device cgroup: a node for /dev/mem can be made (CAP_MKNOD) but not opened.
  const Result dev = crun(
      {},
      {"sh", "-c", "mknod /tmp/mem c 1 1; head -c 1 /tmp/mem; rc=$?; rm -f /tmp/mem; exit $rc"});
  EXPECT_NE(dev.status, 0);
  EXPECT_NE(dev.err.find("Operation not permitted"), std::string::npos) << dev.err;
  // The seccomp profile refuses what the capabilities alone might not (unshare of a user ns).
  const Result u = crun({}, {"unshare", "-U", "true"});
  EXPECT_NE(u.status, 0);
}

// --- escape classes -------------------------------------------------------------------

TEST_F(Container, EscapeThroughProcSelfExeIsRefused) {
  // The attack (CVE-2019-5736): from the container side, open the runtime's /proc/PID/exe and
  // write to it. The runtime runs from a sealed memfd copy, so the write fails and the host
  // binary is untouched.
  const std::string before = read_all(runtime_);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execl(runtime_.c_str(), runtime_.c_str(), "container", "run", "--rootfs", rootfs().c_str(),
            "--", "sleep", "3", nullptr);
    ::_exit(99);
  }
  std::string link;
  for (int i = 0; i < 200 && link.find("memfd") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::error_code ec;
    link = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
  }
  EXPECT_NE(link.find("memfd:vmm-runtime"), std::string::npos) << link;
  const std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  const int fd = ::open(exe.c_str(), O_WRONLY);
  EXPECT_LT(fd, 0) << "the runtime image is writable";
  if (fd >= 0) {
    EXPECT_LT(::write(fd, "x", 1), 0);
    ::close(fd);
  }
  const int rd = ::open(exe.c_str(), O_RDONLY);
  ASSERT_GE(rd, 0);
  EXPECT_NE(::fcntl(rd, F_GET_SEALS) & F_SEAL_WRITE, 0);
  ::close(rd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(read_all(runtime_) == before);
}

TEST_F(Container, HostFdsDoNotLeakIntoTheContainer) {
  RunOptions o;
  o.leak_fd = 7;
  const Result r =
      crun({}, {"sh", "-c", "ls /proc/$$/fd; readlink /proc/$$/fd/7 || echo no-fd-7"}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("no-fd-7"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("/etc"), std::string::npos) << r.out;
}

TEST_F(Container, CwdIsNeverOutsideTheRoot) {
  RunOptions o;
  o.cwd = base_.string();  // a host directory the container must not start in
  const Result r = crun({}, {"sh", "-c", "readlink /proc/self/cwd; pwd"}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "/\n/\n");
  const Result w = crun({"--workdir", "/etc"}, {"readlink", "/proc/self/cwd"}, o);
  EXPECT_EQ(w.out, "/etc\n");
}

TEST_F(Container, SymlinkMountDestinationStaysInsideTheRoot) {
  const fs::path host_dir = base_ / "host-target";
  fs::create_directories(host_dir);
  // /escape -> ../../../../<host dir>: resolved inside the root, where it does not exist.
  fs::create_symlink("../../../../../../../../" + host_dir.string(), rootfs() / "escape");
  // /inside -> ../../../../tmp: clamps to the container's own /tmp.
  fs::create_symlink("../../../../../../tmp", rootfs() / "inside");
  const auto bundle = make_bundle("symlink-bundle", [](json& c) {
    c["process"]["args"] = {"sh", "-c", "echo mine > /inside/marker; cat /tmp/marker"};
    c["root"]["readonly"] = false;
    c["mounts"].push_back({{"destination", "/inside"},
                           {"type", "tmpfs"},
                           {"source", "tmpfs"},
                           {"options", {"mode=755"}}});
  });
  Result r = oci({"run", "--bundle", bundle.string(), "symlink-ok"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "mine\n");
  EXPECT_FALSE(fs::exists("/tmp/marker")) << "the mount landed on the host's /tmp";

  const auto evil = make_bundle("symlink-evil", [](json& c) {
    c["process"]["args"] = {"true"};
    c["mounts"].push_back({{"destination", "/escape/sub"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  });
  r = oci({"run", "--bundle", evil.string(), "symlink-evil"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("/escape/sub"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(host_dir / "sub")) << "a directory was created on the host";
  EXPECT_EQ(read_all("/proc/self/mountinfo").find(host_dir.string()), std::string::npos);
  EXPECT_FALSE(fs::exists(fs::path(oci_root()) / "symlink-evil"));
  fs::remove(rootfs() / "escape");
  fs::remove(rootfs() / "inside");
}

TEST_F(Container, FakeProcIsRefused) {
  // Attack 1: the image ships /proc as a symlink to a directory it controls.
  const fs::path fake_root = base_ / "fakeproc-root";
  fs::copy(rootfs(), fake_root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::remove(fake_root / "proc");
  fs::create_directories(fake_root / "fake");
  fs::create_symlink("fake", fake_root / "proc");
  Result r = run({"container", "run", "--rootfs", fake_root.string(), "--", "true"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("/proc"), std::string::npos) << r.err;
  EXPECT_FALSE(run_cgroups_left());
  EXPECT_TRUE(fs::is_empty("/run/vmm/container"));
  // Attack 2: a later mount covers the real procfs with an ordinary directory.
  const fs::path decoy = base_ / "decoy";
  fs::create_directories(decoy / "self");
  const auto bundle = make_bundle("fakeproc-bundle", [&](json& c) {
    c["process"]["args"] = {"true"};
    c["mounts"].push_back({{"destination", "/proc"},
                           {"type", "bind"},
                           {"source", decoy.string()},
                           {"options", {"bind"}}});
  });
  r = oci({"run", "--bundle", bundle.string(), "fakeproc"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("/proc is not the expected file system"), std::string::npos) << r.err;
  EXPECT_FALSE(leftover_cgroup("vmm-runc/fakeproc"));
  fs::remove_all(fake_root);
}

// Also covers the rest of process and linux: oomScoreAdj, rlimits, additionalGids, sysctl,
// linux.devices.
TEST_F(Container, CapabilitySetsAndProcessSettingsApplyAsConfigured) {
  const auto bundle = make_bundle("caps-bundle", [](json& c) {
    c["process"]["args"] = {
        "sh", "-c",
        "grep -E '^Cap(Inh|Amb|Eff)' /proc/self/status; cat /proc/self/oom_score_adj; ulimit -n; "
        "id -G; cat /proc/sys/net/ipv4/ip_forward; stat -c '%t:%T %a' /dev/fuse"};
    c["process"]["oomScoreAdj"] = 123;
    c["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 321}, {"hard", 321}}};
    c["process"]["user"]["additionalGids"] = {10, 20};
    c["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
    c["linux"]["devices"] = {
        {{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 0600}}};
    c["process"]["capabilities"]["inheritable"] = {"CAP_KILL"};
    c["process"]["capabilities"]["ambient"] = {"CAP_KILL"};
  });
  const Result r = oci({"run", "--bundle", bundle.string(), "caps"});
  ASSERT_EQ(r.status, 0) << r.err;
  // Inheritable and ambient as the config says (runc applies them; clients leave them empty).
  EXPECT_NE(r.out.find("CapInh:\t0000000000000020"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapAmb:\t0000000000000020"), std::string::npos) << r.out;
  // The runc default three: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE.
  EXPECT_NE(r.out.find("CapEff:\t0000000020000420"), std::string::npos) << r.out;
  // The rest of process and linux: oomScoreAdj, rlimits, additionalGids, sysctl.
  EXPECT_NE(r.out.find("\n123\n321\n0 10 20\n1\na:e5 600\n"), std::string::npos) << r.out;
}

TEST_F(Container, NonRootProcessKeepsItsAmbientCapabilities) {
  // Without ambient capabilities a non-root program loses every capability at exec.
  const auto bundle = make_bundle("ambient-bundle", [](json& c) {
    c["process"]["args"] = {"grep", "-E", "^Cap(Eff|Amb)", "/proc/self/status"};
    c["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    const json caps = {"CAP_KILL", "CAP_NET_BIND_SERVICE"};
    for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"}) {
      c["process"]["capabilities"][set] = caps;
    }
  });
  const Result r = oci({"run", "--bundle", bundle.string(), "ambient"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "CapEff:\t0000000000000420\nCapAmb:\t0000000000000420\n");
}

TEST_F(Container, SeccompFilterDoesNotForceNoNewPrivsNorBreakFdCleanup) {
  // A profile that refuses close_range (as the runtime-tools suite's default one does): the
  // descriptor clean-up must already be done when the filter goes in.
  const auto bundle = make_bundle("seccomp-nnp", [](json& c) {
    c["process"]["args"] = {"grep", "NoNewPrivs", "/proc/self/status"};
    c["process"]["noNewPrivileges"] = false;
    c["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"architectures", {"SCMP_ARCH_X86_64"}},
        {"syscalls",
         {{{"names", {"close_range", "syslog"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
  });
  Result r = oci({"run", "--bundle", bundle.string(), "nnp-off"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "NoNewPrivs:\t0\n");
  const auto strict = make_bundle("seccomp-nnp-on", [](json& c) {
    c["process"]["args"] = {"grep", "NoNewPrivs", "/proc/self/status"};
    c["process"]["noNewPrivileges"] = true;
    c["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls", {{{"names", {"close_range"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  });
  r = oci({"run", "--bundle", strict.string(), "nnp-on"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "NoNewPrivs:\t1\n");
}

TEST_F(Container, MissingExecutableFailsAtCreateInRuncsWords) {
  // podman and containerd read these words: "executable file not found" and "no such file or
  // directory" become exit status 127, "permission denied" 126.
  const struct {
    const char* id;
    std::vector<std::string> args;
    const char* words;
  } cases[] = {{"noexe1", {"no-such-command"}, "executable file not found in $path"},
               {"noexe2", {"/no/such/program"}, "no such file or directory"},
               {"noexe3", {"/etc/passwd"}, "permission denied"}};
  for (const auto& c : cases) {
    const auto bundle = make_bundle(std::string("bundle-") + c.id,
                                    [&](json& cfg) { cfg["process"]["args"] = c.args; });
    const Result r = oci({"create", "--bundle", bundle.string(), c.id});
    EXPECT_NE(r.status, 0) << c.id;
    std::string err = r.err;
    std::transform(err.begin(), err.end(), err.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    EXPECT_NE(err.find(c.words), std::string::npos) << c.id << ": " << r.err;
    EXPECT_FALSE(fs::exists(fs::path(oci_root()) / c.id)) << c.id;
    EXPECT_FALSE(leftover_cgroup(std::string("vmm-runc/") + c.id)) << c.id;
  }
}

TEST_F(Container, AContainerThatDiesBeforeExecFailsStart) {
  // An ambient capability that is not inheritable cannot be raised: only the last step before
  // execve finds out, after `create` returned. `start` must report it, not succeed.
  const auto bundle = make_bundle("dies-before-exec", [](json& c) {
    c["process"]["args"] = {"sh", "-c", "exec >/dev/null 2>&1; sleep 5"};
    c["process"]["capabilities"]["ambient"] = {"CAP_KILL"};
    c["process"]["capabilities"]["inheritable"] = json::array();
  });
  RunOptions files;
  files.output_to_files = true;
  Result r = oci({"create", "--bundle", bundle.string(), "dbe"}, files);
  ASSERT_EQ(r.status, 0) << r.err;
  r = oci({"start", "dbe"}, files);
  EXPECT_NE(r.status, 0) << "start reported success for a container that never ran";
  EXPECT_NE(r.err.find("ambient capability"), std::string::npos) << r.err;
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_EQ(oci({"delete", "--force", "dbe"}).status, 0);
  EXPECT_FALSE(leftover_cgroup("vmm-runc/dbe"));
}

TEST_F(Container, CreateAndStartWithRootMappedToAnotherUid) {
  // The exec fifo lives in the runtime's private state directory: init must reach it as the
  // container's root, host uid 100000 here.
  const auto bundle = make_bundle("userns-create", [](json& c) {
    c["process"]["args"] = {"id", "-u"};
    c["linux"]["namespaces"].push_back({{"type", "user"}});
    c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    c["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  });
  RunOptions files;
  files.output_to_files = true;
  Result r = oci({"create", "--bundle", bundle.string(), "usc"}, files);
  ASSERT_EQ(r.status, 0) << r.err;
  const int pid = json::parse(oci({"state", "usc"}).out)["pid"].get<int>();
  r = oci({"start", "usc"}, files);
  EXPECT_EQ(r.status, 0) << r.err;
  ::waitpid(pid, nullptr, 0);
  // The init kept create's stdout (the same file start wrote its empty output to).
  EXPECT_EQ(read_all(base_ / "run.out"), "0\n") << "the container's `id -u`";
  EXPECT_EQ(oci({"delete", "usc"}).status, 0);
}

TEST_F(Container, MissingWorkingDirectoryIsCreated) {
  const auto bundle = make_bundle("cwd-bundle", [](json& c) {
    c["process"]["args"] = {"pwd"};
    c["process"]["cwd"] = "/created/by/runtime";
    c["root"]["readonly"] = false;
  });
  const Result r = oci({"run", "--bundle", bundle.string(), "cwd"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "/created/by/runtime\n");
}

TEST_F(Container, TmpfsWithTmpcopyupOnAReadOnlyRoot) {
  // podman run --read-only --tmpfs /etc: a tmpfs with tmpcopyup starts with what it covers.
  const fs::path shared = base_ / "rro-source";
  fs::create_directories(shared / "sub");
  std::ofstream(shared / "sub" / "file") << "x";
  const auto bundle = make_bundle("tmpcopyup", [&](json& c) {
    c["root"]["readonly"] = true;
    c["process"]["args"] = {
        "sh", "-c",
        "head -1 /etc/passwd && touch /etc/new && ls /etc/new && "
        "(touch /data/sub/other 2>/dev/null && echo writable || echo read-only)"};
    c["mounts"].push_back({{"destination", "/etc"},
                           {"type", "tmpfs"},
                           {"source", "tmpfs"},
                           {"options", {"rw", "nosuid", "nodev", "tmpcopyup", "mode=755"}}});
    c["mounts"].push_back({{"destination", "/data"},
                           {"type", "bind"},
                           {"source", shared.string()},
                           {"options", {"rbind", "rro"}}});
  });
  Result r = oci({"run", "--bundle", bundle.string(), "tmpcopyup"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "root:x:0:0:root:/root:/bin/sh\n/etc/new\nread-only\n");
  EXPECT_FALSE(fs::exists(rootfs() / "etc" / "new")) << "the tmpfs wrote through to the image";
  // An extension vmm does not implement is refused at create, naming it.
  const auto idmap = make_bundle("idmap", [&](json& c) {
    c["mounts"].push_back({{"destination", "/data"},
                           {"type", "bind"},
                           {"source", shared.string()},
                           {"options", {"rbind", "idmap"}}});
  });
  r = oci({"create", "--bundle", idmap.string(), "idmap"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("mount option 'idmap' is not supported"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(oci_root()) / "idmap"));
}

// The cgroup v1 directory of a vmm-runc container for one controller.
fs::path v1_cgroup(const char* controller, const std::string& id) {
  return fs::path("/sys/fs/cgroup") / controller / "vmm-runc" / id;
}

std::string first_line(const fs::path& p) {
  std::string line;
  std::ifstream in(p);
  std::getline(in, line);
  return line;
}

TEST_F(Container, PauseAndResumeFreezeTheContainer) {
  // podman pause/unpause and ctr task pause/resume call these.
  const auto bundle = make_bundle("pause-bundle", [](json& c) {
    c["process"]["args"] = {"sh", "-c", "exec >/dev/null 2>&1; while :; do :; done"};
  });
  ASSERT_EQ(oci({"run", "--detach", "--bundle", bundle.string(), "pz"}).status, 0);
  const auto status = [&] { return json::parse(oci({"state", "pz"}).out)["status"]; };
  const fs::path usage = v1_cgroup("cpuacct", "pz") / "cpuacct.usage";
  Result r = oci({"pause", "pz"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(status(), "paused");
  // A paused container uses no CPU.
  const uint64_t before = std::stoull(first_line(usage));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(std::stoull(first_line(usage)), before) << "a paused container kept running";
  EXPECT_NE(oci({"pause", "pz"}).status, 0) << "pausing twice must fail";
  r = oci({"exec", "pz", "true"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("paused"), std::string::npos) << r.err;
  // list shows it paused too
  EXPECT_EQ(json::parse(oci({"list", "--format", "json"}).out)[0]["status"], "paused");
  r = oci({"resume", "pz"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(status(), "running");
  const uint64_t resumed = std::stoull(first_line(usage));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GT(std::stoull(first_line(usage)), resumed) << "the container did not resume";
  EXPECT_NE(oci({"resume", "pz"}).status, 0) << "resuming a running container must fail";
  // A paused container can still be deleted by force.
  ASSERT_EQ(oci({"pause", "pz"}).status, 0);
  r = oci({"delete", "--force", "pz"});
  EXPECT_EQ(r.status, 0) << r.err;
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_FALSE(fs::exists(fs::path(oci_root()) / "pz"));
  EXPECT_FALSE(leftover_cgroup("vmm-runc/pz"));
}

TEST_F(Container, CgroupV1ControllersAreJoinedAndLimited) {
  // podman run --cpuset-cpus 1: runc gives the container CPU 1 alone.
  std::string block_dev;
  for (const auto& e : fs::directory_iterator("/sys/block")) {
    if (fs::exists(e.path() / "dev")) {
      block_dev = first_line(e.path() / "dev");
      break;
    }
  }
  ASSERT_FALSE(block_dev.empty()) << "no block device to throttle";
  const auto colon = block_dev.find(':');
  const int major = std::stoi(block_dev.substr(0, colon));
  const int minor = std::stoi(block_dev.substr(colon + 1));
  const auto bundle = make_bundle("cpuset-bundle", [&](json& c) {
    c["process"]["args"] = {"sh", "-c", "exec sleep 30 >/dev/null 2>&1"};
    c["linux"]["resources"]["cpu"]["cpus"] = "1";
    c["linux"]["resources"]["blockIO"]["throttleReadBpsDevice"] = {
        {{"major", major}, {"minor", minor}, {"rate", 1048576}}};
  });
  Result r = oci({"run", "--detach", "--bundle", bundle.string(), "cs"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(first_line(v1_cgroup("cpuset", "cs") / "cpuset.cpus"), "1");
  r = oci({"exec", "cs", "grep", "Cpus_allowed_list", "/proc/self/status"});
  EXPECT_EQ(r.out, "Cpus_allowed_list:\t1\n") << r.err;
  EXPECT_EQ(first_line(v1_cgroup("blkio", "cs") / "blkio.throttle.read_bps_device"),
            block_dev + " 1048576");
  // Every controller the host has holds the init.
  const std::string pid = std::to_string(json::parse(oci({"state", "cs"}).out)["pid"].get<int>());
  for (const char* controller : {"cpuset", "blkio", "freezer", "memory", "pids", "cpu"}) {
    const std::string procs = read_all(v1_cgroup(controller, "cs") / "cgroup.procs");
    EXPECT_NE(procs.find(pid), std::string::npos) << controller;
  }
  // runc update, as containerd calls it: flags, and a LinuxResources document.
  r = oci({"update", "--memory", "64m", "--pids-limit", "10", "--cpuset-cpus", "0", "cs"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(first_line(v1_cgroup("memory", "cs") / "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(first_line(v1_cgroup("pids", "cs") / "pids.max"), "10");
  EXPECT_EQ(first_line(v1_cgroup("cpuset", "cs") / "cpuset.cpus"), "0");
  const fs::path doc = base_ / "resources.json";
  std::ofstream(doc) << R"({"pids": {"limit": 20}, "cpu": {"shares": 512}})";
  r = oci({"update", "--resources", doc.string(), "cs"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(first_line(v1_cgroup("pids", "cs") / "pids.max"), "20");
  EXPECT_EQ(first_line(v1_cgroup("cpu", "cs") / "cpu.shares"), "512");
  std::ofstream(doc) << R"({"pids": {"limit": "many"}})";
  r = oci({"update", "--resources", doc.string(), "cs"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("linux.resources.pids.limit"), std::string::npos) << r.err;
  EXPECT_EQ(oci({"delete", "--force", "cs"}).status, 0);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_FALSE(leftover_cgroup("vmm-runc/cs"));
  EXPECT_FALSE(fs::exists(v1_cgroup("cpuset", "cs")));
}

TEST_F(Container, CgroupFilesystemInsideShowsTheContainersOwnCgroup) {
  // On a v1 host, as runc does: one read-only directory per hierarchy, rooted at the
  // container's own cgroup.
  const auto bundle = make_bundle("cgroupfs-bundle", [](json& c) {
    c["process"]["args"] = {
        "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
        // Counted by the shell itself: a pipeline's processes may or may not be there yet.
        "n=0; while read -r _; do n=$((n + 1)); done </sys/fs/cgroup/pids/cgroup.procs; "
        "echo $n; "
        "echo 5 > /sys/fs/cgroup/pids/pids.max 2>/dev/null && echo writable || echo read-only; "
        "test -d /sys/fs/cgroup/memory/vmm-runc && echo sees-the-host || echo own-view"};
    c["linux"]["resources"]["memory"]["limit"] = 100 * 1024 * 1024;
    c["linux"]["resources"]["pids"]["limit"] = 77;
    c["mounts"].push_back({{"destination", "/sys/fs/cgroup"},
                           {"type", "cgroup"},
                           {"source", "cgroup"},
                           {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}});
  });
  const Result r = oci({"run", "--bundle", bundle.string(), "cgfs"});
  ASSERT_EQ(r.status, 0) << r.err;
  // Only the shell is in the container's own cgroup while it counts.
  EXPECT_EQ(r.out, "104857600\n77\n1\nread-only\nown-view\n");
}

TEST_F(Container, ARunWhoseRuntimeWasKilledIsCleanedByTheNextRun) {
  const pid_t runtime = ::fork();
  if (runtime == 0) {
    const int devnull = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
    ::execl(runtime_.c_str(), runtime_.c_str(), "container", "run", "--name", "abandoned",
            "--memory", "64M", "--rootfs", rootfs().c_str(), "--", "sleep", "60",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(runtime, 0);
  const fs::path state = "/run/vmm/container/abandoned";
  const fs::path cgroup = "/sys/fs/cgroup/memory/vmm/abandoned";
  for (int i = 0; i < 500 && !fs::exists(cgroup / "cgroup.procs"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(fs::exists(cgroup)) << "the run never started";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(runtime, SIGKILL);
  ::waitpid(runtime, nullptr, 0);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  EXPECT_TRUE(fs::exists(state)) << "nothing was left to clean: the test proves nothing";
  EXPECT_TRUE(fs::exists(cgroup));
  const Result r = crun({"--name", "after"}, {"echo", "only this"});
  EXPECT_EQ(r.status, 0) << r.err;
  // The notice is the runtime's, on stderr: stdout belongs to the container.
  EXPECT_EQ(r.out, "only this\n");
  EXPECT_NE(r.err.find("removed the state of container abandoned"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(state)) << "stale state left behind";
  EXPECT_FALSE(fs::exists(cgroup)) << "stale cgroup left behind";
}

TEST_F(Container, PidNamespaceJoinedByPathHomeDevicesAndStatePaths) {
  const auto first = make_bundle("pidns-first", [](json& c) {
    c["process"]["args"] = {"sh", "-c", "exec sleep 31 >/dev/null 2>&1"};
  });
  ASSERT_EQ(oci({"run", "--detach", "--bundle", first.string() + "/", "pidns-first"}).status, 0);
  const json st = json::parse(oci({"state", "pidns-first"}).out);
  // No trailing slash in bundle, no double slash in rootfs (runc prints them clean).
  EXPECT_EQ(st["bundle"], first.string());
  EXPECT_EQ(st["rootfs"].get<std::string>().find("//"), std::string::npos) << st["rootfs"];
  // runc: state leaves owner empty, list names the user.
  EXPECT_EQ(st["owner"], "");
  bool listed = false;
  for (const auto& e : json::parse(oci({"list", "--format", "json"}).out)) {
    if (e["id"] == "pidns-first") {
      listed = true;
      EXPECT_EQ(e["owner"], "root");
    }
  }
  EXPECT_TRUE(listed);
  const int pid = st["pid"].get<int>();
  const auto second = make_bundle("pidns-second", [&](json& c) {
    c["process"]["args"] = {"sh", "-c",
                            "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $HOME; "
                            "stat -c '%t:%T' /opt/node"};
    c["process"]["env"] = {"PATH=/usr/bin:/bin"};  // no HOME: it comes from /etc/passwd
    c["root"]["readonly"] = false;
    c["linux"]["devices"] = {
        {{"path", "/opt/node"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"fileMode", 0600}}};
    for (auto& ns : c["linux"]["namespaces"]) {
      if (ns["type"] == "pid") ns["path"] = "/proc/" + std::to_string(pid) + "/ns/pid";
    }
  });
  const Result r = oci({"run", "--bundle", second.string(), "pidns-second"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "sleep 31 \n/root\n1:3\n");
  EXPECT_EQ(oci({"delete", "--force", "pidns-first"}).status, 0);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  std::error_code ec;
  fs::remove(rootfs() / "opt" / "node", ec);
}

TEST_F(Container, SharedRootfsPropagation) {
  // pivot_root refuses a shared root: runc applies the propagation after it.
  const auto bundle = make_bundle("shared-root", [](json& c) {
    c["process"]["args"] = {"sh", "-c", "awk '$5 == \"/\" {print $7}' /proc/self/mountinfo"};
    c["linux"]["rootfsPropagation"] = "shared";
  });
  const Result r = oci({"run", "--bundle", bundle.string(), "shared-root"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("shared:", 0), 0U) << r.out;
}

TEST_F(Container, PsPrintsATableOrJson) {
  const auto bundle = make_bundle("ps-bundle", [](json& c) {
    c["process"]["args"] = {"sh", "-c", "exec sleep 37 >/dev/null 2>&1"};
  });
  ASSERT_EQ(oci({"run", "--detach", "--bundle", bundle.string(), "pst"}).status, 0);
  Result r = oci({"ps", "pst"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("UID", 0), 0U) << r.out;
  EXPECT_NE(r.out.find("sleep 37"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  r = oci({"ps", "--format", "json", "pst"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), 1U);
  EXPECT_EQ(oci({"delete", "--force", "pst"}).status, 0);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

TEST_F(Container, DetachedExecOutlivesTheRuntime) {
  // podman exec and ctr task exec always pass --detach and keep the process themselves.
  const auto bundle = make_bundle("exec-detach", [](json& c) {
    c["process"]["args"] = {"sh", "-c", "exec sleep 60 >/dev/null 2>&1"};
  });
  ASSERT_EQ(oci({"run", "--detach", "--bundle", bundle.string(), "xd"}).status, 0);
  const Result e = oci({"exec", "--detach", "xd", "sh", "-c", "exec sleep 61 >/dev/null 2>&1"});
  ASSERT_EQ(e.status, 0) << e.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const Result ps = oci({"ps", "--format", "json", "xd"});
  ASSERT_EQ(ps.status, 0) << ps.err;
  EXPECT_EQ(json::parse(ps.out).size(), 2U)
      << "the exec'd process died with the runtime: " << ps.out;
  // Both processes are ours to reap now (we are their subreaper, as conmon and the shim are).
  EXPECT_EQ(oci({"kill", "xd", "KILL"}).status, 0);
  for (int reaped = 0, i = 0; reaped < 2 && i < 500; ++i) {
    if (::waitpid(-1, nullptr, WNOHANG) > 0) {
      ++reaped;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  const Result d = oci({"delete", "xd"});
  EXPECT_EQ(d.status, 0) << d.err;
}

TEST_F(Container, NetSysctlInAJoinedNetworkNamespace) {
  // podman creates the network namespace itself and passes it by path with
  // net.ipv4.ping_group_range set.
  const std::string ns = "vmmtest-sysctl";
  ASSERT_EQ(std::system(("ip netns add " + ns).c_str()), 0);
  const auto joined = make_bundle("sysctl-joined", [&](json& c) {
    c["process"]["args"] = {"cat", "/proc/sys/net/ipv4/ping_group_range"};
    for (auto& n : c["linux"]["namespaces"]) {
      if (n["type"] == "network") n["path"] = "/run/netns/" + ns;
    }
    c["linux"]["sysctl"] = {{"net.ipv4.ping_group_range", "0 2000"}};
  });
  Result r = oci({"run", "--bundle", joined.string(), "sysctl-joined"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "0\t2000\n");
  (void)std::system(("ip netns delete " + ns).c_str());
  // The host's own namespace, joined by path: the sysctl would change the host.
  const auto host = make_bundle("sysctl-host", [&](json& c) {
    c["process"]["args"] = {"true"};
    for (auto& n : c["linux"]["namespaces"]) {
      if (n["type"] == "network") n["path"] = "/proc/self/ns/net";
    }
    c["linux"]["sysctl"] = {{"net.ipv4.ping_group_range", "0 2000"}};
  });
  r = oci({"run", "--bundle", host.string(), "sysctl-host"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("is the host's"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(oci_root()) / "sysctl-host"));
}

TEST_F(Container, CgroupV2CodePathOnTheUnifiedHierarchy) {
  // This host's v2 tree has no controllers, but creating, joining and removing a cgroup there
  // exercises the v2 path (subtree delegation is best effort) the same way a v2 host does.
  if (!fs::exists("/sys/fs/cgroup/unified/cgroup.procs")) {
    GTEST_SKIP() << "no cgroup2 hierarchy at /sys/fs/cgroup/unified";
  }
  vmm::container::CgroupLayout layout;
  layout.version = vmm::container::CgroupVersion::kV2;
  layout.unified_root = "/sys/fs/cgroup/unified";
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  {
    vmm::container::Cgroup cg =
        vmm::container::Cgroup::create(layout, "vmm-test/v2-" + std::to_string(::getpid()), {});
    ASSERT_EQ(cg.directories().size(), 1U);
    const std::string dir = cg.directories().begin()->second;
    EXPECT_TRUE(fs::exists(dir + "/cgroup.procs"));
    cg.add_process(child);
    EXPECT_EQ(cg.processes(), std::vector<pid_t>{child});
    cg.destroy();  // kills what is left, then removes the directory
    EXPECT_FALSE(fs::exists(dir));
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ::rmdir("/sys/fs/cgroup/unified/vmm-test");
}

// --- rootless -------------------------------------------------------------------------

TEST_F(Container, RunsRootlessAsAnUnprivilegedUser) {
  RunOptions o;
  o.uid = 65534;
  const Result r =
      crun({"--hostname", "rootless"},
           {"sh", "-c", "id -u; cat /proc/self/uid_map; hostname; touch /tmp/x 2>&1"}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string uid, map, host;
  std::getline(lines, uid);
  std::getline(lines, map);
  std::getline(lines, host);
  EXPECT_EQ(uid, "0");
  std::istringstream m(map);
  long inside = -1, outside = -1, count = -1;
  m >> inside >> outside >> count;
  EXPECT_EQ(inside, 0);
  EXPECT_EQ(outside, 65534);
  EXPECT_EQ(count, 1);
  EXPECT_EQ(host, "rootless");
  // Host networking without root: the host's /sys appears read-only.
  const Result hostnet =
      crun({"--net", "host"}, {"sh", "-c", "ls /sys/class/net | grep -c lo; touch /sys/x"}, o);
  EXPECT_NE(hostnet.status, 0);
  EXPECT_EQ(hostnet.out, "1\n") << hostnet.err;
  EXPECT_NE(hostnet.err.find("Read-only file system"), std::string::npos) << hostnet.err;
  // Limits need cgroups, which an unprivileged user does not own: a clear user error.
  const Result lim = crun({"--memory", "64M"}, {"true"}, o);
  EXPECT_EQ(lim.status, 2);
}

// --- OCI command line -----------------------------------------------------------------

int recv_fd(int sock) {
  char name[64];
  iovec iov{name, sizeof(name)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (::recvmsg(sock, &msg, 0) <= 0) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

TEST_F(Container, OciLifecycleWithConsoleSocketAndHooks) {
  const fs::path marks = base_ / "hook-marks";
  fs::create_directories(marks);
  const auto hook = [&](const std::string& name) {
    return json{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + (marks / name).string()}}};
  };
  const auto bundle = make_bundle("lifecycle", [&](json& c) {
    c["process"]["terminal"] = true;
    c["process"]["args"] = {"sh", "-c", "echo console-ok; tty; sleep 60"};
    c["hooks"]["prestart"] = {hook("prestart")};
    c["hooks"]["createRuntime"] = {hook("createRuntime")};
    c["hooks"]["createContainer"] = {hook("createContainer")};
    c["hooks"]["poststart"] = {hook("poststart")};
    c["hooks"]["poststop"] = {hook("poststop")};
    // startContainer runs inside the container: its path and its output are the container's.
    c["hooks"]["startContainer"] = {
        {{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > /dev/shm/started"}}}};
    c["linux"]["resources"]["pids"] = {{"limit", 50}};
  });
  const std::string sock_path = (base_ / "console.sock").string();
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strcpy(sun.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  int master = -1;
  std::thread console([&] {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 20000) <= 0) return;
    const int c = ::accept(listener, nullptr, nullptr);
    master = recv_fd(c);
    ::close(c);
  });
  const std::string pid_file = (base_ / "lifecycle.pid").string();
  Result r = oci({"create", "--bundle", bundle.string(), "--console-socket", sock_path,
                  "--pid-file", pid_file, "life"});
  console.join();
  ::close(listener);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_GE(master, 0) << "no pty master arrived on the console socket";

  r = oci({"state", "life"});
  ASSERT_EQ(r.status, 0) << r.err;
  json st = json::parse(r.out);
  EXPECT_EQ(st["status"], "created");
  EXPECT_EQ(st["id"], "life");
  EXPECT_EQ(st["bundle"], bundle.string());
  EXPECT_EQ(std::to_string(st["pid"].get<int>()), read_all(pid_file));
  EXPECT_TRUE(fs::exists(marks / "prestart"));
  EXPECT_TRUE(fs::exists(marks / "createRuntime"));
  EXPECT_TRUE(fs::exists(marks / "createContainer"));
  EXPECT_FALSE(fs::exists(marks / "poststart"));
  EXPECT_EQ(json::parse(read_all(marks / "createRuntime"))["pid"], st["pid"]);

  // A second create with the same id is a user error and disturbs nothing.
  r = oci({"create", "--bundle", bundle.string(), "--console-socket", sock_path, "life"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;

  r = oci({"start", "life"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string console_out;
  for (int i = 0; i < 100 && console_out.find("/dev/pts/0") == std::string::npos; ++i) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      char buf[256];
      const ssize_t n = ::read(master, buf, sizeof(buf));
      if (n > 0) console_out.append(buf, static_cast<size_t>(n));
    }
  }
  EXPECT_NE(console_out.find("console-ok"), std::string::npos) << console_out;
  EXPECT_NE(console_out.find("/dev/pts/0"), std::string::npos) << console_out;
  st = json::parse(oci({"state", "life"}).out);
  EXPECT_EQ(st["status"], "running");
  EXPECT_TRUE(fs::exists(marks / "poststart"));
  const Result ls = oci({"list", "--format", "json"});
  EXPECT_NE(ls.out.find("\"life\""), std::string::npos);

  const Result ex = oci({"exec", "life", "cat", "/dev/shm/started"});
  EXPECT_EQ(ex.status, 0) << ex.err;
  EXPECT_NE(ex.out.find("\"status\""), std::string::npos) << "startContainer hook did not run";

  r = oci({"delete", "life"});
  EXPECT_NE(r.status, 0) << "deleting a running container must fail without --force";
  r = oci({"kill", "life", "KILL"});
  ASSERT_EQ(r.status, 0) << r.err;
  for (int i = 0; i < 200; ++i) {
    if (json::parse(oci({"state", "life"}).out)["status"] == "stopped") break;
    // The init was re-parented to us (the test is a child subreaper): reap it.
    ::waitpid(-1, nullptr, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(json::parse(oci({"state", "life"}).out)["status"], "stopped");
  r = oci({"delete", "life"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(marks / "poststop"));
  EXPECT_EQ(json::parse(read_all(marks / "poststop"))["status"], "stopped");
  EXPECT_EQ(oci({"state", "life"}).status, 2);
  EXPECT_FALSE(leftover_cgroup("vmm-runc/life"));
  EXPECT_FALSE(fs::exists(fs::path(oci_root()) / "life"));
  ::close(master);
}

TEST_F(Container, OciJoinsNamespacesByPath) {
  const auto first = make_bundle("ns-first", [](json& c) {
    // Let go of the test's output pipes, or reading them would wait for the sleep.
    c["process"]["args"] = {"sh", "-c", "exec sleep 30 >/dev/null 2>&1"};
    c["hostname"] = "shared-uts";
  });
  Result r = oci({"run", "--detach", "--bundle", first.string(), "ns-first"});
  ASSERT_EQ(r.status, 0) << r.err;
  const int pid = json::parse(oci({"state", "ns-first"}).out)["pid"].get<int>();
  const auto second = make_bundle("ns-second", [&](json& c) {
    c["process"]["args"] = {"hostname"};
    // A hostname with a joined UTS namespace is allowed (runc sets it in that namespace).
    c["hostname"] = "shared-uts";
    for (auto& ns : c["linux"]["namespaces"]) {
      if (ns["type"] == "uts") ns["path"] = "/proc/" + std::to_string(pid) + "/ns/uts";
      if (ns["type"] == "network") ns["path"] = "/proc/" + std::to_string(pid) + "/ns/net";
    }
  });
  r = oci({"run", "--bundle", second.string(), "ns-second"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "shared-uts\n");
  EXPECT_EQ(oci({"delete", "--force", "ns-first"}).status, 0);
  ::waitpid(-1, nullptr, WNOHANG);
  EXPECT_FALSE(fs::exists(fs::path(oci_root()) / "ns-first"));
  EXPECT_FALSE(leftover_cgroup("vmm-runc/ns-first"));
}

TEST_F(Container, OciLogFileInJson) {
  const auto broken = base_ / "broken-log";
  fs::create_directories(broken);
  std::ofstream(broken / "config.json") << "{}";
  const std::string log = (base_ / "runtime.log").string();
  const Result r = run({"oci", "--root", oci_root(), "--log", log, "--log-format", "json", "create",
                        "--bundle", broken.string(), "logged"});
  EXPECT_EQ(r.status, 2);
  std::istringstream lines(read_all(log));
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const json entry = json::parse(line);
  EXPECT_EQ(entry["level"], "error");
  EXPECT_NE(entry["msg"].get<std::string>().find("ociVersion"), std::string::npos);
}

TEST_F(Container, OciRunPassesTheExitStatusAndCleansUp) {
  const auto bundle = make_bundle("run-status", [](json& c) {
    c["process"]["args"] = {"sh", "-c", "exit 3"};
  });
  const Result r = oci({"run", "--bundle", bundle.string(), "rs"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(oci_root()) / "rs"));
  EXPECT_FALSE(leftover_cgroup("vmm-runc/rs"));
}

TEST_F(Container, BadInputIsOneClearLineAndLeavesNothing) {
  const auto broken = base_ / "broken";
  fs::create_directories(broken);
  std::ofstream(broken / "config.json") << "{\"ociVersion\": \"1.0.0\", \"root\": ";
  Result r = oci({"create", "--bundle", broken.string(), "bad1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("config.json: not valid JSON"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  const auto no_root =
      make_bundle("no-rootfs", [&](json& c) { c["root"]["path"] = (base_ / "missing").string(); });
  r = oci({"create", "--bundle", no_root.string(), "bad2"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;

  const auto bad_ns = make_bundle("bad-ns", [](json& c) {
    c["linux"]["namespaces"].push_back({{"type", "wormhole"}});
  });
  r = oci({"create", "--bundle", bad_ns.string(), "bad3"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown namespace type 'wormhole'"), std::string::npos) << r.err;

  r = run({"oci", "--root", oci_root(), "--log-format", "yaml", "list"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--log-format must be text or json"), std::string::npos) << r.err;

  r = crun({"--memory", "lots"}, {"true"});
  EXPECT_EQ(r.status, 2);
  r = run({"container", "run", "--rootfs", (base_ / "missing").string(), "--", "true"});
  EXPECT_EQ(r.status, 2);

  for (const char* id : {"bad1", "bad2", "bad3"}) {
    EXPECT_FALSE(fs::exists(fs::path(oci_root()) / id)) << id;
    EXPECT_FALSE(leftover_cgroup(std::string("vmm-runc/") + id)) << id;
  }
}

TEST_F(Container, WorksWhenInvokedAsVmmRunc) {
  const fs::path link = base_ / "vmm-runc";
  if (!fs::exists(link)) fs::create_symlink(runtime_, link);
  RunOptions o;
  o.argv0 = link.string();
  Result r = run({"--version"}, o);
  ASSERT_EQ(r.status, 0) << r.err;  // podman info reads it
  EXPECT_EQ(r.out.rfind("vmm-runc version ", 0), 0U) << r.out;
  r = run({"features"}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ociVersionMax"], "1.2.0");
  const fs::path dir = base_ / "spec-out";
  fs::create_directories(dir);
  r = run({"spec", "--bundle", dir.string()}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(json::parse(read_all(dir / "config.json")).contains("process"));
  const auto bundle = make_bundle("as-runc", [](json& c) {
    c["process"]["args"] = {"echo", "via-runc-name"};
  });
  r = run({"--root", oci_root(), "run", "--bundle", bundle.string(), "asrunc"}, o);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "via-runc-name\n");
}

}  // namespace
