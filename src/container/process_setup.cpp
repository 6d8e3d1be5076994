#include "container/process_setup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "container/seccomp_filter.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

int last_capability() {
  const int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CAP_LAST_CAP;
  std::array<char, 16> buf{};
  const ssize_t n = ::read(fd, buf.data(), buf.size() - 1);
  ::close(fd);
  if (n <= 0) return CAP_LAST_CAP;
  const int v = std::atoi(buf.data());
  return v > 0 && v < 64 ? v : CAP_LAST_CAP;
}

void apply_capabilities(const Capabilities& caps) {
  const int last = last_capability();
  const auto has = [](const std::vector<int>& set, int cap) {
    return std::find(set.begin(), set.end(), cap) != set.end();
  };
  for (int cap = 0; cap <= last; ++cap) {
    if (has(caps.bounding, cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      throw system_error("cannot drop capability " + std::to_string(cap) + " from the bounding set",
                         errno);
    }
  }
}

void set_capability_sets(const Capabilities& caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, 2> data{};
  const auto fill = [&](const std::vector<int>& set, auto member) {
    for (int cap : set) {
      if (cap < 0 || cap >= 64) continue;
      data[static_cast<size_t>(cap / 32)].*member |= 1U << (cap % 32);
    }
  };
  fill(caps.effective, &__user_cap_data_struct::effective);
  fill(caps.permitted, &__user_cap_data_struct::permitted);
  fill(caps.inheritable, &__user_cap_data_struct::inheritable);
  if (::syscall(SYS_capset, &header, data.data()) != 0) throw system_error("capset", errno);
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    throw system_error("cannot clear ambient capabilities", errno);
  }
  // Ambient capabilities survive the exec of a non-root program; the kernel accepts only
  // those both permitted and inheritable.
  for (int cap : caps.ambient) {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      throw system_error("cannot raise ambient capability " + std::to_string(cap) +
                             " (it must also be permitted and inheritable)",
                         errno);
    }
  }
}

// The user's home directory from the container's /etc/passwd, "/" when it has none (as runc).
std::string home_directory(uint32_t uid) {
  std::ifstream passwd("/etc/passwd");
  for (std::string line; std::getline(passwd, line);) {
    // name:password:uid:gid:gecos:home:shell
    std::vector<std::string> fields;
    std::istringstream in(line);
    for (std::string f; std::getline(in, f, ':');) fields.push_back(f);
    if (fields.size() < 6) continue;
    char* end = nullptr;
    const unsigned long id = std::strtoul(fields[2].c_str(), &end, 10);
    if (*end == '\0' && !fields[2].empty() && id == uid && !fields[5].empty()) return fields[5];
  }
  return "/";
}

void set_user(const User& user) {
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) throw system_error("PR_SET_KEEPCAPS", errno);
  std::vector<gid_t> groups(user.additional_gids.begin(), user.additional_gids.end());
  if (::setgroups(groups.size(), groups.empty() ? nullptr : groups.data()) != 0) {
    // A user namespace written with setgroups=deny cannot change groups; that is fine
    // unless additional groups were asked for.
    if (!(errno == EPERM && groups.empty())) throw system_error("setgroups", errno);
  }
  if (::setresgid(user.gid, user.gid, user.gid) != 0) {
    throw system_error("cannot switch to gid " + std::to_string(user.gid), errno);
  }
  if (::setresuid(user.uid, user.uid, user.uid) != 0) {
    throw system_error("cannot switch to uid " + std::to_string(user.uid), errno);
  }
}

}  // namespace

void clear_bounding_set() { apply_capabilities(Capabilities{}); }

void drop_to_user(const User& user) {
  set_user(User{.uid = user.uid, .gid = user.gid, .additional_gids = {}, .umask = std::nullopt});
  set_capability_sets(Capabilities{});
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) throw system_error("PR_SET_KEEPCAPS", errno);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    throw system_error("PR_SET_NO_NEW_PRIVS", errno);
}

std::vector<int> default_capabilities() {
  std::vector<int> caps;
  for (const char* name :
       {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}) {
    caps.push_back(*capability_from_name(name));
  }
  return caps;
}

std::string find_executable(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  size_t pos = 0;
  while (pos <= path.size()) {
    const size_t next = path.find(':', pos);
    std::string dir = path.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (dir.empty()) dir = ".";
    std::string candidate = dir;
    candidate.append("/").append(name);
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return {};
}

void close_fds_on_exec(unsigned first) {
  if (::syscall(SYS_close_range, first, UINT_MAX, CLOSE_RANGE_CLOEXEC) == 0) return;
  if (errno != ENOSYS && errno != EINVAL && errno != EPERM)
    throw system_error("close_range", errno);
  // Kernels before 5.11 (or a filter that refuses close_range): mark them one by one.
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) throw system_error("cannot list /proc/self/fd", errno);
  const int own = ::dirfd(dir);
  std::vector<int> fds;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (*end == '\0' && end != e->d_name && fd >= static_cast<long>(first) && fd != own) {
      fds.push_back(static_cast<int>(fd));
    }
  }
  ::closedir(dir);
  for (int fd : fds) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

std::string prepare_exec(const Process& process) {
  if (process.oom_score_adj) {
    const int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw system_error("cannot open /proc/self/oom_score_adj", errno);
    const std::string v = std::to_string(*process.oom_score_adj);
    const ssize_t n = ::write(fd, v.data(), v.size());
    const int err = errno;
    ::close(fd);
    if (n < 0) throw system_error("cannot set oomScoreAdj", err);
  }
  for (const auto& rl : process.rlimits) {
    const rlimit lim{rl.soft, rl.hard};
    if (::setrlimit(static_cast<__rlimit_resource>(rl.resource), &lim) != 0) {
      throw system_error("setrlimit " + std::to_string(rl.resource), errno);
    }
  }
  // A missing working directory is created, as runc does (0755, parents included).
  if (::chdir(process.cwd.c_str()) != 0) {
    if (errno != ENOENT) {
      throw system_error("cannot change to working directory " + process.cwd, errno);
    }
    std::string partial;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = process.cwd.find('/', pos + 1);
      partial = process.cwd.substr(0, pos);
      if (!partial.empty() && ::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        throw system_error("cannot create working directory " + partial, errno);
      }
    }
    if (::chdir(process.cwd.c_str()) != 0) {
      throw system_error("cannot change to working directory " + process.cwd, errno);
    }
  }
  // A cwd that is not below the root shows up as "(unreachable)": never run there.
  std::array<char, PATH_MAX> cwd{};
  if (::getcwd(cwd.data(), cwd.size()) == nullptr || cwd[0] != '/') {
    throw Error("working directory " + process.cwd + " is outside the container root");
  }
  const std::string& name = process.args.front();
  std::string program = find_executable(name, process.env);
  if (program.empty()) {
    throw Error("exec: \"" + name + "\": executable file not found in $PATH");
  }
  struct stat st {};
  if (::stat(program.c_str(), &st) != 0) {
    throw system_error("exec: \"" + name + "\": stat " + program, errno);
  }
  if (S_ISDIR(st.st_mode)) throw Error("exec: \"" + name + "\": is a directory");
  if (::access(program.c_str(), X_OK) != 0) {
    throw system_error("exec: \"" + name + "\"", errno);
  }
  return program;
}

void finalize_and_exec(const Process& process, const std::string& program, const Seccomp* seccomp,
                       int preserve_fds) {
  // Before credentials and seccomp change what may be read.
  std::vector<std::string> env = process.env;
  if (std::none_of(env.begin(), env.end(),
                   [](const std::string& e) { return e.rfind("HOME=", 0) == 0; })) {
    env.push_back("HOME=" + home_directory(process.user.uid));
  }
  // Before any filter: a seccomp profile may forbid close_range and fcntl.
  close_fds_on_exec(3U + static_cast<unsigned>(preserve_fds));
  apply_capabilities(process.capabilities);
  // Without no_new_privs the filter must go in while CAP_SYS_ADMIN is still held.
  if (seccomp && !process.no_new_privileges) load_seccomp(*seccomp);
  set_user(process.user);
  set_capability_sets(process.capabilities);
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) throw system_error("PR_SET_KEEPCAPS", errno);
  if (process.no_new_privileges) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
      throw system_error("PR_SET_NO_NEW_PRIVS", errno);
    if (seccomp) load_seccomp(*seccomp);
  }

  std::vector<char*> argv;
  argv.reserve(process.args.size() + 1);
  for (const auto& a : process.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  ::execve(program.c_str(), argv.data(), envp.data());
  throw system_error("exec: \"" + process.args.front() + "\"", errno);
}

}  // namespace vmm::container
