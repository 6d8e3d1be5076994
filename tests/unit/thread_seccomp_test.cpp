// Each kind of vmm thread confines itself with its own seccomp filter. In a child process, a
// thread loads one kind's filter and makes one call: the calls no vmm thread needs (exec,
// fork, ptrace, mount, module loading, netlink sockets, executable memory, opening files
// outside the file server) end the process with status 159 and a line naming the thread and
// the call; the calls the kind needs go through.
#include "vmm/confine/thread_seccomp.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <functional>
#include <string>
#include <thread>

namespace vmm::confine {
namespace {

struct ChildOutcome {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
  std::string stderr_text;
};

// Forks; the child sets `mode`, starts a thread that confines itself as `kind` and runs
// `body`, and exits 0 if the body returns (or 3 if the body reports failure).
ChildOutcome run_confined(ThreadKind kind, SeccompMode mode, const std::function<bool()>& body,
                          const std::function<void()>& before = {}) {
  std::array<int, 2> err{};
  if (::pipe2(err.data(), O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(err[1], STDERR_FILENO);
    set_seccomp_mode(mode);
    if (before) before();
    // The thread ends the process itself: a thread's own end runs the sanitizers' bookkeeping
    // (ASan probes memory through a pipe), which is not what is under test.
    std::thread t([&] {
      confine_this_thread(kind);
      ::_exit(body() ? 0 : 3);
    });
    t.join();
    ::_exit(4);
  }
  ::close(err[1]);
  ChildOutcome outcome;
  std::array<char, 512> buf{};
  for (ssize_t n = 0; (n = ::read(err[0], buf.data(), buf.size())) > 0;) {
    outcome.stderr_text.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

struct Forbidden {
  const char* syscall;  // as the log line names it
  std::function<bool()> call;
};

long open_host_file() { return ::syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY); }

const std::array<Forbidden, 8>& forbidden_everywhere() {
  static const std::array<Forbidden, 8> calls = {{
      {"execve",
       [] {
         const char* argv[] = {"/bin/true", nullptr};
         return ::syscall(SYS_execve, "/bin/true", argv, nullptr) == 0;
       }},
      {"ptrace", [] { return ::syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) == 0; }},
      {"mount", [] { return ::syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, nullptr) == 0; }},
      {"finit_module", [] { return ::syscall(SYS_finit_module, -1, "", 0) == 0; }},
      {"init_module", [] { return ::syscall(SYS_init_module, nullptr, 0, "") == 0; }},
      {"clone", [] { return ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) >= 0; }},
      {"socket", [] { return ::syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0) >= 0; }},
      {"mmap",
       [] {
         return ::syscall(SYS_mmap, nullptr, 4096, PROT_READ | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != -1;
       }},
  }};
  return calls;
}

class ThreadSeccompTest : public ::testing::TestWithParam<ThreadKind> {};

TEST_P(ThreadSeccompTest, AForbiddenCallEndsVmmWithALineNamingTheThreadAndTheCall) {
  const std::string kind(to_string(GetParam()));
  auto check = [&](const char* syscall, const std::function<bool()>& call) {
    const ChildOutcome o = run_confined(GetParam(), SeccompMode::kKill, call);
    EXPECT_EQ(o.exit_code, kSeccompExitStatus)
        << kind << " thread, " << syscall << ": exit " << o.exit_code << " signal " << o.signal
        << "; stderr: " << o.stderr_text;
    const std::string line = "vmm: error: seccomp: the " + kind +
                             " thread made a forbidden system call: " + syscall + " (";
    EXPECT_NE(o.stderr_text.find(line), std::string::npos)
        << "expected '" << line << "' in: " << o.stderr_text;
  };
  for (const Forbidden& f : forbidden_everywhere()) check(f.syscall, f.call);
  if (GetParam() == ThreadKind::kDeviceLoop) {
    check("openat", [] {
      return ::syscall(SYS_openat, AT_FDCWD, "/tmp/vmm-seccomp-test", O_WRONLY | O_CREAT, 0600) >=
             0;
    });
  } else if (GetParam() != ThreadKind::kFileServer) {
    check("openat", [] { return open_host_file() >= 0; });
  }
}

TEST_P(ThreadSeccompTest, TheCallsEveryThreadMakesGoThrough) {
  const ChildOutcome ok = run_confined(GetParam(), SeccompMode::kKill, [] {
    timespec ts{};
    if (::clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return false;
    std::string big(1 << 20, 'x');  // malloc: brk or mmap without PROT_EXEC
    const char line[] = "still here\n";
    return ::write(STDERR_FILENO, line, sizeof line - 1) == sizeof line - 1 && big.size() > 0 &&
           ::gettid() > 0;
  });
  EXPECT_EQ(ok.exit_code, 0) << ok.stderr_text;
  EXPECT_NE(ok.stderr_text.find("still here"), std::string::npos) << ok.stderr_text;
}

INSTANTIATE_TEST_SUITE_P(Kinds, ThreadSeccompTest, ::testing::ValuesIn(kAllThreadKinds),
                         [](const auto& param_info) {
                           std::string name(to_string(param_info.param));
                           std::erase(name, '-');
                           return name;
                         });

// A jailed vmm's id change reaches the threads confined before it (glibc has each thread make
// the calls): their filters take exactly the jail's ids, and no others.
TEST(ThreadSeccomp, AThreadMayDropToTheJailsIdsOnly) {
  if (::geteuid() != 0) GTEST_FAIL() << "needs root, as the jail does";
  const auto allow = [] { allow_dropping_to(65534, 65534); };
  for (const ThreadKind kind : kAllThreadKinds) {
    const ChildOutcome drop = run_confined(
        kind, SeccompMode::kKill,
        [] {
          return ::syscall(SYS_setgroups, 0, nullptr) == 0 &&
                 ::syscall(SYS_setresgid, 65534, 65534, 65534) == 0 &&
                 ::syscall(SYS_setresuid, 65534, 65534, 65534) == 0;
        },
        allow);
    EXPECT_EQ(drop.exit_code, 0) << to_string(kind) << ": " << drop.stderr_text;
    const ChildOutcome other = run_confined(
        kind, SeccompMode::kKill, [] { return ::syscall(SYS_setresuid, 1000, 1000, 1000) == 0; },
        allow);
    EXPECT_EQ(other.exit_code, kSeccompExitStatus) << to_string(kind) << ": " << other.stderr_text;
    const ChildOutcome without = run_confined(kind, SeccompMode::kKill, [] {
      return ::syscall(SYS_setresuid, 65534, 65534, 65534) == 0;
    });
    EXPECT_EQ(without.exit_code, kSeccompExitStatus) << to_string(kind) << " without the jail";
    // Threads confined after the drop (the device loop, the vCPUs) get no allowance.
    const ChildOutcome after = run_confined(
        kind, SeccompMode::kKill, [] { return ::syscall(SYS_setresuid, 65534, 65534, 65534) == 0; },
        [] {
          allow_dropping_to(65534, 65534);
          dropping_done();
        });
    EXPECT_EQ(after.exit_code, kSeccompExitStatus) << to_string(kind) << " after the drop";
  }
}

TEST(ThreadSeccomp, TheDeviceLoopMayOpenInternetAndUnixSocketsOnly) {
  const ChildOutcome o = run_confined(ThreadKind::kDeviceLoop, SeccompMode::kKill, [] {
    for (const int domain : {AF_UNIX, AF_INET, AF_INET6}) {
      const int fd = ::socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0 && errno != EAFNOSUPPORT) return false;
      if (fd >= 0) ::close(fd);
    }
    return true;
  });
  EXPECT_EQ(o.exit_code, 0) << o.stderr_text;
  const ChildOutcome packet = run_confined(ThreadKind::kDeviceLoop, SeccompMode::kKill, [] {
    return ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0) >= 0;
  });
  EXPECT_EQ(packet.exit_code, kSeccompExitStatus) << packet.stderr_text;
}

// libslirp rereads /etc/resolv.conf on the loop; nothing there writes files.
TEST(ThreadSeccomp, TheDeviceLoopOpensFilesReadOnly) {
  const ChildOutcome o = run_confined(ThreadKind::kDeviceLoop, SeccompMode::kKill, [] {
    const long fd = open_host_file();
    if (fd >= 0) ::close(static_cast<int>(fd));
    return fd >= 0;
  });
  EXPECT_EQ(o.exit_code, 0) << o.stderr_text;
  for (const int flags : {O_RDWR, O_WRONLY, O_RDONLY | O_CREAT, O_RDONLY | O_TRUNC}) {
    const ChildOutcome w = run_confined(ThreadKind::kDeviceLoop, SeccompMode::kKill, [flags] {
      return ::syscall(SYS_openat, AT_FDCWD, "/tmp/vmm-seccomp-test", flags, 0600) >= 0;
    });
    EXPECT_EQ(w.exit_code, kSeccompExitStatus) << "flags " << flags << ": " << w.stderr_text;
  }
}

TEST(ThreadSeccomp, TheFileServerOpensFilesButDoesNotExec) {
  const ChildOutcome o = run_confined(ThreadKind::kFileServer, SeccompMode::kKill, [] {
    const long fd = open_host_file();
    if (fd >= 0) ::close(static_cast<int>(fd));
    return fd >= 0;
  });
  EXPECT_EQ(o.exit_code, 0) << o.stderr_text;
}

TEST(ThreadSeccomp, LogModeLetsAForbiddenCallThrough) {
  const ChildOutcome o =
      run_confined(ThreadKind::kVcpu, SeccompMode::kLog, [] { return ::getppid() > 0; });
  EXPECT_EQ(o.exit_code, 0) << o.stderr_text;
  const ChildOutcome killed =
      run_confined(ThreadKind::kVcpu, SeccompMode::kKill, [] { return ::getppid() > 0; });
  EXPECT_EQ(killed.exit_code, kSeccompExitStatus) << killed.stderr_text;
  EXPECT_NE(killed.stderr_text.find("forbidden system call: getppid ("), std::string::npos)
      << killed.stderr_text;
}

TEST(ThreadSeccomp, OffLoadsNoFilter) {
  const ChildOutcome o =
      run_confined(ThreadKind::kVcpu, SeccompMode::kOff, [] { return open_host_file() >= 0; });
  EXPECT_EQ(o.exit_code, 0) << o.stderr_text;
}

TEST(ThreadSeccomp, ModesParseAndPrint) {
  for (const SeccompMode m : {SeccompMode::kKill, SeccompMode::kLog, SeccompMode::kOff}) {
    EXPECT_EQ(parse_seccomp_mode(to_string(m)), m);
  }
  EXPECT_FALSE(parse_seccomp_mode("strict").has_value());
  EXPECT_FALSE(parse_seccomp_mode("").has_value());
}

TEST(ThreadSeccomp, NoKindMayExecForkPtraceMountOrLoadModules) {
  for (const ThreadKind kind : kAllThreadKinds) {
    const auto list = allowed_syscalls(kind);
    for (const char* name :
         {"execve", "execveat", "fork", "vfork", "clone", "clone3", "ptrace", "mount", "umount2",
          "pivot_root", "chroot", "init_module", "finit_module", "kexec_load", "bpf", "setns",
          "unshare", "process_vm_writev"}) {
      EXPECT_EQ(std::find(list.begin(), list.end(), name), list.end())
          << to_string(kind) << " allows " << name;
    }
  }
}

}  // namespace
}  // namespace vmm::confine
