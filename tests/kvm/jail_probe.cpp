// Built into vmm-jail-probe, the vmm the jail tests run (never into vmm itself): with
// VMM_JAIL_PROBE set, right after the jail's lock-down and before the guest starts, it tries what
// a guest that took over a device model would try, and prints on stderr
//   VMMPROBE: NAME=allowed | seccomp | ERRNO (EACCES, EPERM, ...)
// Each try runs in a child process that first confines itself as the device loop does (under
// the run's --seccomp mode): `seccomp` means the filter stopped it, an errno that the jail did.
// Then the credentials and limits vmm holds: VMMPROBE: status.Uid=..., status.CapEff=...,
// nofile=..., hostname=..., netdevs=..., cgroup=... VMM_JAIL_PROBE=exit ends vmm after that.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "jail/jail.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace {

// Makes the forbidden call; returns 0 when it worked, else the errno.
using Try = int (*)();

int result(long rc) { return rc >= 0 ? 0 : (errno == 0 ? EINVAL : errno); }

int open_host_file() { return result(::open("/etc/passwd", O_RDONLY | O_CLOEXEC)); }
int write_root() { return result(::open("/probe", O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
int ptrace_vmm() { return result(::ptrace(PTRACE_ATTACH, ::getppid(), nullptr, nullptr)); }
int mount_tmpfs() { return result(::mount("none", "/dev", "tmpfs", 0, nullptr)); }
int raw_socket() { return result(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)); }
int execve_shell() {
  char* const argv[] = {const_cast<char*>("sh"), nullptr};
  return result(::execve("/bin/sh", argv, nullptr));
}
int load_module() { return result(::syscall(SYS_init_module, nullptr, 0, "")); }
int become_root() { return result(::setuid(0)); }
// A TCP connection to the host (VMM_JAIL_PROBE_CONNECT=ADDR:PORT, a listener of the test's).
int connect_host() {
  const char* target = std::getenv("VMM_JAIL_PROBE_CONNECT");
  const std::string text = target != nullptr ? target : "127.0.0.1:22";
  const size_t colon = text.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(text.substr(colon + 1).c_str())));
  ::inet_pton(AF_INET, text.substr(0, colon).c_str(), &sa.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return result(fd);
  return result(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa));
}

void probe(const char* name, Try attempt) {
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    vmm::confine::confine_this_thread(vmm::confine::ThreadKind::kDeviceLoop);
    ::_exit(attempt());
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) {
    std::fprintf(stderr, "VMMPROBE: %s=cannot fork (%s)\n", name, std::strerror(errno));
    return;
  }
  std::string outcome;
  if (WIFSIGNALED(status)) {
    outcome = WTERMSIG(status) == SIGSYS ? "seccomp"
                                         : std::string("signal ") + strsignal(WTERMSIG(status));
  } else if (WEXITSTATUS(status) == vmm::confine::kSeccompExitStatus) {
    outcome = "seccomp";
  } else if (WEXITSTATUS(status) == 0) {
    outcome = "allowed";
  } else {
    const char* errno_name = ::strerrorname_np(WEXITSTATUS(status));
    outcome = errno_name != nullptr ? errno_name : std::to_string(WEXITSTATUS(status));
  }
  std::fprintf(stderr, "VMMPROBE: %s=%s\n", name, outcome.c_str());
}

void print_file_lines(const char* path, const char* prefix) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    for (char& c : value) {
      if (c == '\t') c = ' ';
    }
    std::fprintf(stderr, "VMMPROBE: %s%s=%s\n", prefix, line.substr(0, colon).c_str(),
                 value.c_str());
  }
}

void run_probes() {
  const char* mode = std::getenv("VMM_JAIL_PROBE");
  if (mode == nullptr || *mode == '\0') return;
  probe("open_host_file", open_host_file);
  probe("write_root", write_root);
  probe("ptrace", ptrace_vmm);
  probe("mount", mount_tmpfs);
  probe("raw_socket", raw_socket);
  probe("connect_host", connect_host);
  probe("execve", execve_shell);
  probe("load_module", load_module);
  probe("setuid_root", become_root);
  print_file_lines("/proc/self/status", "status.");
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  std::fprintf(stderr, "VMMPROBE: nofile=%llu\n", static_cast<unsigned long long>(nofile.rlim_max));
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::fprintf(stderr, "VMMPROBE: hostname=%s\n", host);
  std::string netdevs;
  std::ifstream dev("/proc/self/net/dev");
  for (std::string line; std::getline(dev, line);) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    netdevs += (netdevs.empty() ? "" : ",") + name;
  }
  std::fprintf(stderr, "VMMPROBE: netdevs=%s\n", netdevs.c_str());
  std::string cgroup;
  std::getline(std::ifstream("/proc/self/cgroup"), cgroup);
  std::fprintf(stderr, "VMMPROBE: cgroup=%s\n", cgroup.c_str());
  std::fprintf(stderr, "VMMPROBE: done\n");
  std::fflush(stderr);
  if (std::string(mode) == "exit") ::_exit(0);
}

[[maybe_unused]] const bool kRegistered = []() noexcept {
  vmm::jail::set_locked_down_hook(run_probes);
  return true;
}();

}  // namespace
