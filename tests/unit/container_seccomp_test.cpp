#include <errno.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "container/seccomp_filter.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

// Runs `body` in a forked child with `profile` loaded; returns the child's exit status.
int in_filtered_child(const Seccomp& profile, const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    try {
      load_seccomp(profile);
    } catch (...) {
      ::_exit(100);
    }
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(ContainerSeccomp, DefaultProfileRefusesDangerousSyscallsWithEperm) {
  const Seccomp p = default_seccomp_profile();
  // unshare and keyctl fail with EPERM; getpid still works.
  EXPECT_EQ(
      in_filtered_child(p, [] { return ::unshare(CLONE_NEWUSER) == -1 && errno == EPERM ? 0 : 1; }),
      0);
  EXPECT_EQ(
      in_filtered_child(
          p, [] { return ::syscall(SYS_keyctl, 0, 0, 0, 0, 0) == -1 && errno == EPERM ? 0 : 1; }),
      0);
  EXPECT_EQ(
      in_filtered_child(
          p, [] { return ::syscall(SYS_bpf, 0, nullptr, 0) == -1 && errno == EPERM ? 0 : 1; }),
      0);
  EXPECT_EQ(in_filtered_child(p, [] { return ::getpid() > 0 ? 0 : 1; }), 0);
}

TEST(ContainerSeccomp, PrecompiledDefaultEqualsAFreshCompilation) {
  const auto fresh = compile_seccomp(default_seccomp_profile());
  const auto cached = precompiled_default_seccomp();
  ASSERT_EQ(fresh.size(), cached.size());
  for (size_t i = 0; i < fresh.size(); ++i) {
    EXPECT_EQ(fresh[i].code, cached[i].code) << i;
    EXPECT_EQ(fresh[i].jt, cached[i].jt) << i;
    EXPECT_EQ(fresh[i].jf, cached[i].jf) << i;
    EXPECT_EQ(fresh[i].k, cached[i].k) << i;
  }
}

TEST(ContainerSeccomp, AChangedDefaultProfileIsCompiledNotTakenFromTheCache) {
  Seccomp p = default_seccomp_profile();
  p.syscalls.front().names.erase(p.syscalls.front().names.begin() + 1);  // allow add_key
  ASSERT_NE(p, default_seccomp_profile());
  EXPECT_NE(compile_seccomp(p).size(), precompiled_default_seccomp().size());
  // add_key is no longer refused with EPERM (it fails otherwise, on its bad arguments).
  EXPECT_EQ(in_filtered_child(p,
                              [] {
                                return ::syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0) ==
                                                   -1 &&
                                               errno == EPERM
                                           ? 1
                                           : 0;
                              }),
            0);
}

TEST(ContainerSeccomp, OciProfileWithArgumentsAndErrno) {
  Seccomp p;
  p.default_action = "SCMP_ACT_ALLOW";
  SeccompRule rule;
  rule.names = {"personality", "no_such_syscall_on_this_kernel"};
  rule.action = "SCMP_ACT_ERRNO";
  rule.errno_ret = EACCES;
  rule.args = {SeccompArg{0, 0x1234, 0, "SCMP_CMP_EQ"}};
  p.syscalls.push_back(rule);
  // Only personality(0x1234) is refused, with the configured errno.
  EXPECT_EQ(
      in_filtered_child(
          p, [] { return ::syscall(SYS_personality, 0x1234) == -1 && errno == EACCES ? 0 : 1; }),
      0);
  EXPECT_EQ(
      in_filtered_child(p, [] { return ::syscall(SYS_personality, 0xffffffff) >= 0 ? 0 : 1; }), 0);
}

TEST(ContainerSeccomp, UnknownActionsAreUserErrors) {
  Seccomp p;
  p.default_action = "SCMP_ACT_EXPLODE";
  EXPECT_EQ(in_filtered_child(p, [] { return 0; }), 100);
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      load_seccomp(p);
    } catch (const ConfigError&) {
      ::_exit(0);
    } catch (...) {
    }
    ::_exit(1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace vmm::container
