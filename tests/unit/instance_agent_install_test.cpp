// The guest agent on VM instance disks: which init system a tree has, the hook installed for
// it, trees whose symlinks point outside (nothing may be written there), and the disk made
// from a staging copy while the image's tree stays as it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "instance/agent_install.hpp"
#include "instance/child_process.hpp"
#include "instance/vm_disk.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint32_t mode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Every entry below `dir`, as "relative/path" lines: to see that nothing appeared.
std::string listing(const fs::path& dir) {
  std::string out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out += fs::relative(e.path(), dir).string() + "\n";
  }
  return out;
}

class AgentInstall : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vmm-agent-install-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(root());
    fs::create_directories(outside());
    std::ofstream(agent(), std::ios::binary) << "\x7f"
                                                "ELF stand-in agent";
  }
  void TearDown() override { fs::remove_all(dir_); }

  [[nodiscard]] fs::path root() const { return dir_ / "root"; }
  [[nodiscard]] fs::path outside() const { return dir_ / "outside"; }
  [[nodiscard]] fs::path agent() const { return dir_ / "vmm-agent"; }

  void file(const std::string& path, const std::string& text, fs::perms perms = fs::perms(0644)) {
    const fs::path p = root() / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    fs::permissions(p, perms);
  }
  void link(const std::string& path, const std::string& target) {
    const fs::path p = root() / path;
    fs::create_directories(p.parent_path());
    fs::create_symlink(target, p);
  }
  void expect_agent_binary() {
    const fs::path installed = root() / "usr/lib/vmm/vmm-agent";
    EXPECT_EQ(slurp(installed), slurp(agent()));
    EXPECT_EQ(mode_of(installed), 0755U);
  }

  fs::path dir_;
};

TEST_F(AgentInstall, SystemdUnitEnabledForMultiUser) {
  file("lib/systemd/systemd", "systemd", fs::perms(0755));
  link("sbin/init", "/lib/systemd/systemd");
  ASSERT_EQ(detect_agent_hook(root()), AgentHook::kSystemd);
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kSystemd);
  expect_agent_binary();
  const std::string unit = slurp(root() / "etc/systemd/system/vmm-agent.service");
  EXPECT_THAT(unit, HasSubstr("ExecStart=/usr/lib/vmm/vmm-agent\n"));
  EXPECT_THAT(unit, HasSubstr("Restart=always\n"));
  EXPECT_THAT(unit, HasSubstr("WantedBy=multi-user.target\n"));
  EXPECT_EQ(mode_of(root() / "etc/systemd/system/vmm-agent.service"), 0644U);
  const fs::path wants = root() / "etc/systemd/system/multi-user.target.wants/vmm-agent.service";
  ASSERT_TRUE(fs::is_symlink(wants));
  EXPECT_EQ(fs::read_symlink(wants), "/etc/systemd/system/vmm-agent.service");
  // Installing again (a disk made anew) leaves one of each.
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kSystemd);
  EXPECT_EQ(fs::read_symlink(wants), "/etc/systemd/system/vmm-agent.service");
  EXPECT_THAT(listing(root() / "etc/systemd/system"), ::testing::Not(HasSubstr(".vmm-new")));
}

TEST_F(AgentInstall, SystemdFoundThroughMergedUsrWithoutSbinInit) {
  file("usr/lib/systemd/systemd", "systemd", fs::perms(0755));
  link("lib", "usr/lib");
  link("sbin", "usr/sbin");
  EXPECT_EQ(detect_agent_hook(root()), AgentHook::kSystemd);
}

TEST_F(AgentInstall, OpenRcServiceInTheDefaultRunlevel) {
  // Alpine: busybox init runs OpenRC from its inittab; the OpenRC service is the hook.
  file("bin/busybox", "busybox", fs::perms(0755));
  link("sbin/init", "/bin/busybox");
  file("sbin/openrc", "openrc", fs::perms(0755));
  file("etc/inittab", "::sysinit:/sbin/openrc sysinit\n::wait:/sbin/openrc default\n");
  ASSERT_EQ(detect_agent_hook(root()), AgentHook::kOpenRc);
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kOpenRc);
  expect_agent_binary();
  const std::string script = slurp(root() / "etc/init.d/vmm-agent");
  EXPECT_EQ(script.rfind("#!/sbin/openrc-run\n", 0), 0U) << script;
  EXPECT_THAT(script, HasSubstr("command=/usr/lib/vmm/vmm-agent\n"));
  EXPECT_THAT(script, HasSubstr("supervisor=supervise-daemon\n"));
  EXPECT_EQ(mode_of(root() / "etc/init.d/vmm-agent"), 0755U);
  EXPECT_EQ(fs::read_symlink(root() / "etc/runlevels/default/vmm-agent"), "/etc/init.d/vmm-agent");
  // The inittab is OpenRC's business here: untouched.
  EXPECT_EQ(slurp(root() / "etc/inittab"),
            "::sysinit:/sbin/openrc sysinit\n::wait:/sbin/openrc default\n");
}

TEST_F(AgentInstall, BusyboxInittabGetsARespawnLine) {
  link("sbin/init", "/bin/busybox");
  file("etc/inittab", "::sysinit:/etc/init.d/rcS\nttyS0::respawn:/sbin/getty -L ttyS0 0 vt100",
       fs::perms(0600));
  ASSERT_EQ(detect_agent_hook(root()), AgentHook::kInittab);
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kInittab);
  expect_agent_binary();
  EXPECT_EQ(slurp(root() / "etc/inittab"),
            "::sysinit:/etc/init.d/rcS\nttyS0::respawn:/sbin/getty -L ttyS0 0 vt100\n"
            "# the vmm guest agent\n::respawn:/usr/lib/vmm/vmm-agent\n");
  EXPECT_EQ(mode_of(root() / "etc/inittab"), 0600U) << "the mode is kept";
  // Once only.
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kInittab);
  const std::string text = slurp(root() / "etc/inittab");
  EXPECT_EQ(text.find("vmm-agent"), text.rfind("vmm-agent"));
}

TEST_F(AgentInstall, SysvinitInittabGetsItsOwnSyntax) {
  file("sbin/init", "sysvinit", fs::perms(0755));
  file("etc/inittab",
       "# sysvinit\nid:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n"
       "va:2345:respawn:/usr/bin/other\n");
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kInittab);
  EXPECT_THAT(slurp(root() / "etc/inittab"),
              HasSubstr("\nvm:2345:respawn:/usr/lib/vmm/vmm-agent\n"));  // "va" is taken
}

TEST(AgentInittab, SyntaxFollowsTheFile) {
  EXPECT_EQ(add_agent_to_inittab(""), "# the vmm guest agent\n::respawn:/usr/lib/vmm/vmm-agent\n");
  EXPECT_THAT(add_agent_to_inittab("id:3:initdefault:\n"),
              HasSubstr("\nva:2345:respawn:/usr/lib/vmm/vmm-agent\n"));
  EXPECT_THAT(add_agent_to_inittab("1:2345:respawn:/sbin/getty 38400 tty1\n"),
              HasSubstr("\nva:2345:respawn:/usr/lib/vmm/vmm-agent\n"));
  EXPECT_THAT(add_agent_to_inittab("::sysinit:/etc/init.d/rcS\n"),
              HasSubstr("\n::respawn:/usr/lib/vmm/vmm-agent\n"));
  const std::string has = "::respawn:/usr/lib/vmm/vmm-agent\n";
  EXPECT_EQ(add_agent_to_inittab(has), has);
  // A commented-out agent line does not count.
  EXPECT_THAT(add_agent_to_inittab("#::respawn:/usr/lib/vmm/vmm-agent\n"),
              HasSubstr("\n::respawn:/usr/lib/vmm/vmm-agent\n"));
}

TEST_F(AgentInstall, NoInitSystemLeavesTheTreeAlone) {
  file("bin/sh", "sh", fs::perms(0755));
  const std::string before = listing(root());
  EXPECT_EQ(detect_agent_hook(root()), AgentHook::kNone);
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kNone);
  EXPECT_EQ(listing(root()), before);
  EXPECT_STREQ(to_string(AgentHook::kNone), "none");
  EXPECT_STREQ(to_string(AgentHook::kSystemd), "systemd");
}

// /etc -> an absolute path that exists on the host, /usr -> "../outside": inside the tree
// neither resolves, so installing fails, and the host's directory stays empty.
TEST_F(AgentInstall, SymlinksOutOfTheTreeWriteNothingOutside) {
  file("lib/systemd/systemd", "systemd", fs::perms(0755));
  link("sbin/init", "/lib/systemd/systemd");
  link("etc", outside().string());
  ASSERT_EQ(detect_agent_hook(root()), AgentHook::kSystemd);
  EXPECT_THROW((void)install_agent(root(), agent()), Error);
  EXPECT_EQ(listing(outside()), "");
  fs::remove(root() / "etc");
  fs::remove_all(root() / "usr");
  link("usr", "../outside");
  EXPECT_THROW((void)install_agent(root(), agent()), Error);
  EXPECT_EQ(listing(outside()), "");
}

// The same links where the target exists inside the tree: the files land there, where the
// guest will look, and still nothing outside.
TEST_F(AgentInstall, SymlinksResolveInsideTheTree) {
  file("lib/systemd/systemd", "systemd", fs::perms(0755));
  link("sbin/init", "/lib/systemd/systemd");
  link("etc", outside().string());
  fs::create_directories(root() / outside().relative_path());
  link("usr", "../../../outside-usr");
  fs::create_directories(root() / "outside-usr");
  // An agent path that points at a host file: replaced in the tree, the host file kept.
  std::ofstream(outside() / "host-file") << "host";
  fs::create_directories(root() / "outside-usr/lib/vmm");
  fs::create_symlink(outside() / "host-file", root() / "outside-usr/lib/vmm/vmm-agent");
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kSystemd);
  EXPECT_EQ(listing(outside()), "host-file\n");
  EXPECT_EQ(slurp(outside() / "host-file"), "host");
  EXPECT_TRUE(
      fs::is_regular_file(root() / outside().relative_path() / "systemd/system/vmm-agent.service"));
  EXPECT_FALSE(fs::is_symlink(root() / "outside-usr/lib/vmm/vmm-agent"));
  EXPECT_EQ(slurp(root() / "outside-usr/lib/vmm/vmm-agent"), slurp(agent()));
}

// An inittab that is a link out of the tree is not read (no hook) and nothing is written.
TEST_F(AgentInstall, InittabLinkedOutsideIsNotFollowed) {
  std::ofstream(outside() / "inittab") << "::sysinit:/etc/init.d/rcS\n";
  link("etc/inittab", "../../outside/inittab");
  EXPECT_EQ(detect_agent_hook(root()), AgentHook::kNone);
  link("sbin/init", "/bin/busybox");
  file("lib/systemd/systemd", "systemd", fs::perms(0755));  // still a hook: systemd
  EXPECT_EQ(install_agent(root(), agent()), AgentHook::kSystemd);
  EXPECT_EQ(slurp(outside() / "inittab"), "::sysinit:/etc/init.d/rcS\n");
  EXPECT_EQ(listing(outside()), "inittab\n");
}

// debugfs's view of a path on an ext4 image: "cat" of a file, or "stat" output.
std::string debugfs(const fs::path& disk, const std::string& request) {
  return run_captured({"debugfs", "-R", request, disk.string()}).output;
}

TEST_F(AgentInstall, DiskCarriesTheAgentAndTheImageTreeStaysAsItWas) {
  file("sbin/init", "sysvinit", fs::perms(0755));
  file("etc/inittab", "id:2:initdefault:\n");
  file("etc/hostname", "vm\n");
  const std::string before = listing(root());
  const fs::path disk = dir_ / "root.img";
  EXPECT_EQ(make_root_disk(root(), disk, 128ULL << 20, agent()), AgentHook::kInittab);
  EXPECT_EQ(listing(root()), before);
  EXPECT_EQ(slurp(root() / "etc/inittab"), "id:2:initdefault:\n");
  struct stat st {};
  ASSERT_EQ(::stat((root() / "etc/inittab").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1U) << "no staging link left behind";
  EXPECT_FALSE(fs::exists(dir_ / ".root.img.tree")) << "the staging copy is removed";
  EXPECT_THAT(debugfs(disk, "cat /etc/inittab"),
              HasSubstr("id:2:initdefault:\n# the vmm guest agent\nva:2345:respawn:"));
  EXPECT_THAT(debugfs(disk, "cat /usr/lib/vmm/vmm-agent"), HasSubstr("ELF stand-in agent"));
  EXPECT_THAT(debugfs(disk, "stat /usr/lib/vmm/vmm-agent"), HasSubstr("Mode:  0755"));
  EXPECT_THAT(debugfs(disk, "cat /etc/hostname"), HasSubstr("vm\n"));
}

TEST_F(AgentInstall, DiskWithoutAgentOrHookIsTheTreeAsItIs) {
  file("etc/hostname", "vm\n");
  const fs::path disk = dir_ / "root.img";
  EXPECT_EQ(make_root_disk(root(), disk, 128ULL << 20, agent()), AgentHook::kNone);
  EXPECT_THAT(debugfs(disk, "stat /usr/lib/vmm/vmm-agent"), HasSubstr("File not found"));
  file("sbin/init", "sysvinit", fs::perms(0755));
  file("etc/inittab", "id:2:initdefault:\n");
  EXPECT_EQ(make_root_disk(root(), disk, 128ULL << 20), AgentHook::kNone);
  EXPECT_THAT(debugfs(disk, "cat /etc/inittab"), ::testing::Not(HasSubstr("vmm-agent")));
}

// A tree the agent cannot go into still makes a disk, without the agent.
TEST_F(AgentInstall, DiskOfAHostileTreeIsMadeWithoutTheAgent) {
  file("lib/systemd/systemd", "systemd", fs::perms(0755));
  link("sbin/init", "/lib/systemd/systemd");
  link("etc", outside().string());
  const fs::path disk = dir_ / "root.img";
  EXPECT_EQ(make_root_disk(root(), disk, 128ULL << 20, agent()), AgentHook::kNone);
  EXPECT_EQ(listing(outside()), "");
  EXPECT_THAT(debugfs(disk, "stat /usr/lib/vmm/vmm-agent"), HasSubstr("File not found"));
}

}  // namespace
}  // namespace vmm::instance
