// The agent's own helpers, without a socket: the command's environment and directory, and
// following init's root after switch_root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "agent/agent_exec.hpp"
#include "agent/agent_init.hpp"
#include "agent/agent_root.hpp"

namespace vmm::agent {
namespace {

namespace fs = std::filesystem;

TEST(AgentEnvironment, DefaultsAndOverrides) {
  ExecRequest root;
  root.argv = {"sh"};
  EXPECT_EQ(exec_environment(root), (std::vector<std::string>{kDefaultPath, "HOME=/root"}));
  EXPECT_EQ(exec_directory(root, exec_environment(root)), "/root");

  ExecRequest user;
  user.argv = {"sh"};
  user.uid = 1000;
  user.pty = true;
  user.environment = {"TERM=vt100", "PATH=/bin", "X=1"};
  EXPECT_EQ(exec_environment(user), (std::vector<std::string>{"TERM=vt100", "PATH=/bin", "X=1"}));
  EXPECT_EQ(exec_directory(user, exec_environment(user)), "/");
  user.environment = {"HOME=/home/u"};
  EXPECT_EQ(exec_environment(user),
            (std::vector<std::string>{kDefaultPath, "TERM=xterm", "HOME=/home/u"}));
  EXPECT_EQ(exec_directory(user, exec_environment(user)), "/home/u");
  user.cwd = "/srv";
  EXPECT_EQ(exec_directory(user, exec_environment(user)), "/srv");
}

class FollowRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "vmm-agent-root-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    fs::create_directories(dir_ / "proc" / "1");
    fs::create_directories(dir_ / "newroot");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FollowRootTest, SameDirectoryComparesDeviceAndInode) {
  struct stat a {};
  struct stat b {};
  ASSERT_EQ(::stat("/", &a), 0);
  ASSERT_EQ(::stat(dir_.c_str(), &b), 0);
  EXPECT_TRUE(same_directory(a, a));
  EXPECT_FALSE(same_directory(a, b));
  struct stat other_device = a;
  other_device.st_dev += 1;
  EXPECT_FALSE(same_directory(a, other_device));
}

TEST_F(FollowRootTest, NoProcShowingInitIsUnavailable) {
  EXPECT_EQ(follow_init_root({dir_ / "nowhere", dir_ / "proc"}), RootChange::kUnavailable);
}

TEST_F(FollowRootTest, SameRootStaysPut) {
  fs::create_directory_symlink("/", dir_ / "proc" / "1" / "root");
  EXPECT_EQ(follow_init_root({dir_ / "nowhere", dir_ / "proc"}), RootChange::kSame);
}

TEST_F(FollowRootTest, DifferentRootIsFollowed) {
  // PID 1's root is elsewhere, as after switch_root: the process moves there (in a child, so
  // the test keeps its own root).
  fs::create_directory_symlink(dir_ / "newroot", dir_ / "proc" / "1" / "root");
  { std::ofstream(dir_ / "newroot" / "marker") << "x"; }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const auto change = follow_init_root({dir_ / "proc"});
    char cwd[64] = {};
    const bool at_root = ::getcwd(cwd, sizeof cwd) != nullptr && std::string(cwd) == "/";
    _exit(change == RootChange::kFollowed && at_root && fs::exists("/marker") ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace vmm::agent

namespace vmm::agent {
namespace {

class InitWrapperTest : public FollowRootTest {
 protected:
  // Runs hand_over_to_init in a child with stderr to a file; returns its exit status.
  int hand_over(const std::vector<std::string>& args, const std::vector<std::string>& inits) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int err = ::open((dir_ / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err, 2);
      const std::vector<std::string_view> candidates(inits.begin(), inits.end());
      hand_over_to_init(args, candidates);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string read(const fs::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
  }
};

TEST_F(InitWrapperTest, RunsTheFirstInitThatExistsWithTheKernelsArguments) {
  const fs::path init = dir_ / "init";
  {
    std::ofstream(init) << "#!/bin/sh\necho \"$0|$1|$2|$#\" > " << (dir_ / "result").string()
                        << "\nexit 3\n";
  }
  fs::permissions(init, fs::perms(0755));
  const fs::path missing = dir_ / "missing-init";
  EXPECT_EQ(hand_over({"/vmm/vmm-agent", "single", "a b"}, {missing.string(), init.string()}), 3);
  EXPECT_EQ(read(dir_ / "result"), init.string() + "|single|a b|2\n");
  EXPECT_EQ(read(dir_ / "stderr"),
            "vmm-agent: cannot run " + missing.string() + " as init: No such file or directory\n");
}

TEST_F(InitWrapperTest, NoInitIsAClearError) {
  EXPECT_EQ(hand_over({"/vmm/vmm-agent"}, {(dir_ / "a").string(), (dir_ / "b").string()}), 1);
  EXPECT_NE(read(dir_ / "stderr").find("vmm-agent: no init to hand over to"), std::string::npos)
      << read(dir_ / "stderr");
}

TEST_F(InitWrapperTest, AgentRunsInItsOwnSession) {
  std::array<int, 2> fds{};
  ASSERT_EQ(::pipe(fds.data()), 0);
  ASSERT_TRUE(start_in_background([&] {
    const pid_t ids[2] = {::getpid(), ::getsid(0)};
    [[maybe_unused]] const ssize_t n = ::write(fds[1], ids, sizeof ids);
    _exit(0);
  }));
  ::close(fds[1]);
  pid_t ids[2] = {0, 0};
  ASSERT_EQ(::read(fds[0], ids, sizeof ids), static_cast<ssize_t>(sizeof ids));
  ::close(fds[0]);
  EXPECT_NE(ids[0], ::getpid());
  EXPECT_EQ(ids[1], ids[0]) << "not a session leader";
  EXPECT_EQ(::waitpid(ids[0], nullptr, 0), ids[0]);
}

}  // namespace
}  // namespace vmm::agent

namespace vmm::agent {
namespace {

TEST(KernelNamesARoot, OnlyANonEmptyRootParameterCounts) {
  EXPECT_TRUE(kernel_names_a_root("console=ttyS0 root=/dev/vda rw\n"));
  EXPECT_TRUE(kernel_names_a_root("root=UUID=1234"));
  EXPECT_FALSE(kernel_names_a_root("console=ttyS0 rdinit=/vmm/vmm-agent\n"));
  EXPECT_FALSE(kernel_names_a_root("root= quiet"));
  EXPECT_FALSE(kernel_names_a_root("rootfstype=ext4 rootwait noroot=/dev/vda"));
  EXPECT_FALSE(kernel_names_a_root(""));
}

class AwaitRootTest : public FollowRootTest {
 protected:
  // Runs await_init_root in a child (it may chroot); the child exits 0 when the answer is
  // `expected` and, for a followed root, the marker of the new root is visible.
  void expect_in_child(RootChange expected, std::chrono::milliseconds limit,
                       const std::function<void()>& meanwhile) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const auto change = await_init_root({dir_ / "proc"}, limit);
      const bool marker = fs::exists("/marker-of-newroot");
      _exit(change == expected && marker == (expected == RootChange::kFollowed) ? 0 : 1);
    }
    meanwhile();
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
};

TEST_F(AwaitRootTest, WaitsForInitToSwitchRoot) {
  { std::ofstream(dir_ / "newroot" / "marker-of-newroot") << "x"; }
  const fs::path link = dir_ / "proc" / "1" / "root";
  fs::create_directory_symlink("/", link);
  // init is still in the initramfs (our root) for a while, then switches.
  expect_in_child(RootChange::kFollowed, std::chrono::seconds(20), [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const fs::path staging = dir_ / "proc" / "1" / "root.new";
    fs::create_directory_symlink(dir_ / "newroot", staging);
    fs::rename(staging, link);
  });
}

TEST_F(AwaitRootTest, GivesUpAfterTheLimitAndStaysInTheInitramfs) {
  fs::create_directory_symlink("/", dir_ / "proc" / "1" / "root");
  const auto started = std::chrono::steady_clock::now();
  expect_in_child(RootChange::kSame, std::chrono::milliseconds(300), [] {});
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(300));
}

}  // namespace
}  // namespace vmm::agent
