// `vmm farm run` where VMs run: one farm of VM jobs on the minimal kernel and container jobs,
// two at a time, covering every verdict: passes, an exit status, a debug-exit value, a timeout,
// a kernel panic, KTAP with a failing case, and a flaky container job passing on its retry.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kvm_test_support.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A busybox root for the container jobs, from the sandbox's own static busybox.
void make_busybox_root(const fs::path& root) {
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "tmp", "root"}) {
    fs::create_directories(root / d);
  }
  fs::copy_file("/bin/busybox", root / "bin" / "busybox");
  for (const char* applet : {"sh", "echo", "printf", "sleep", "touch", "true"}) {
    fs::create_symlink("busybox", root / "bin" / applet);
  }
  std::ofstream(root / "etc" / "passwd") << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream(root / "etc" / "group") << "root:x:0:\n";
}

class VmmFarmTest : public KvmTest {
 protected:
  void SetUp() override {
    KvmTest::SetUp();
    // A local file system (the sandbox's /tmp is a tmpfs) for the containers' root.
    dir_ = fs::temp_directory_path() / ("vmm-farm-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(VmmFarmTest, VmAndContainerJobsEveryVerdict) {
  const auto& env = KvmTestEnv::get();
  const std::string minimal =
      env_or("VMM_TEST_MINIMAL_KERNEL", cache_dir() + "/minimal-kernel/bzImage");
  if (::access("/bin/busybox", X_OK) != 0) GTEST_FAIL() << "no /bin/busybox for the containers";
  make_busybox_root(dir_ / "root");
  const std::string base = "console=ttyS0 reboot=k panic=-1 quiet pci=noearly ";
  std::ostringstream farm;
  farm << "[defaults]\nkernel = '" << minimal << "'\ninitrd = '" << env.initrd
       << "'\nmemory = '128M'\ntimeout = 120\n";
  auto vm = [&](const std::string& name, const std::string& action, const std::string& extra) {
    farm << "[[job]]\nname = '" << name << "'\ncmdline = '" << base << "vmmtest=" << action << "'\n"
         << extra << "\n";
  };
  auto box = [&](const std::string& name, const std::string& command, const std::string& extra) {
    farm << "[[job]]\nname = '" << name << "'\nkind = 'container'\nrootfs = 'root'\ncommand = '"
         << command << "'\n"
         << extra << "\n";
  };
  vm("vm-reboot", "reboot", "");
  vm("vm-poweroff", "poweroff", "");
  vm("vm-debug-exit-expected", "debugexit=3", "expect_exit = 7");  // (3 << 1) | 1
  vm("vm-debug-exit-unexpected", "debugexit=5", "");
  vm("vm-exit-status", "reboot", "expect_exit = 3");
  vm("vm-timeout", "sleep", "timeout = 6");
  vm("vm-panic", "panic", "");
  vm("vm-ktap", "ktap", "ktap = true");
  box("box-pass", "echo box-output", "");
  box("box-exit-2", "exit 2", "expect_exit = 2");
  box("box-flaky", "if [ -e /root/marker ]; then exit 0; fi; touch /root/marker; exit 1", "");
  box("box-ktap", R"(printf "TAP version 13\n1..2\nok 1 - one\nok 2 - two\n")", "ktap = true");
  std::ofstream(dir_ / "farm.toml") << farm.str();

  const auto r = run_tool({env.vmm_bin, "farm", "run", (dir_ / "farm.toml").string(), "--jobs", "2",
                           "--retries", "1", "--logs", (dir_ / "logs").string(), "--json",
                           (dir_ / "out.json").string(), "--junit", (dir_ / "out.xml").string()},
                          deadline_);
  ASSERT_TRUE(r.status.exited) << r.status.describe() << "\n" << r.err << r.out;
  EXPECT_EQ(r.status.code, 1) << r.err << r.out;
  const auto j = nlohmann::json::parse(read_text(dir_ / "out.json"));
  std::map<std::string, nlohmann::json> jobs;
  for (const auto& job : j["jobs"]) jobs[job["name"]] = job;
  ASSERT_EQ(jobs.size(), 12U) << r.out;
  auto outcome = [&](const char* name) { return jobs[name]["outcome"].get<std::string>(); };
  EXPECT_EQ(outcome("vm-reboot"), "passed") << jobs["vm-reboot"].dump();
  EXPECT_EQ(outcome("vm-poweroff"), "passed") << jobs["vm-poweroff"].dump();
  EXPECT_EQ(outcome("vm-debug-exit-expected"), "passed");
  EXPECT_EQ(jobs["vm-debug-exit-expected"]["debug_exit_value"], 3);
  EXPECT_EQ(outcome("vm-debug-exit-unexpected"), "failed");
  EXPECT_EQ(jobs["vm-debug-exit-unexpected"]["exit_status"], 11);
  EXPECT_EQ(jobs["vm-debug-exit-unexpected"]["debug_exit_value"], 5);
  EXPECT_EQ(jobs["vm-debug-exit-unexpected"]["attempts"], 2);
  EXPECT_EQ(outcome("vm-exit-status"), "failed");
  EXPECT_EQ(jobs["vm-exit-status"]["reason"], "exit status 0, expected 3");
  EXPECT_EQ(outcome("vm-timeout"), "timed-out");
  EXPECT_EQ(outcome("vm-panic"), "failed");
  EXPECT_TRUE(jobs["vm-panic"]["kernel_panic"].get<bool>()) << jobs["vm-panic"].dump();
  EXPECT_EQ(outcome("vm-ktap"), "failed");
  EXPECT_EQ(jobs["vm-ktap"]["reason"], "1 of 3 KTAP subtests failed");
  EXPECT_EQ(outcome("box-pass"), "passed") << jobs["box-pass"].dump();
  EXPECT_EQ(outcome("box-exit-2"), "passed");
  EXPECT_EQ(outcome("box-flaky"), "passed-flaky");
  EXPECT_EQ(jobs["box-flaky"]["attempts"], 2);
  EXPECT_EQ(outcome("box-ktap"), "passed");
  // 12 jobs and 5 KTAP cases; failures: 4 jobs and the failing KTAP case; error: the timeout.
  EXPECT_EQ(j["totals"]["tests"], 17);
  EXPECT_EQ(j["totals"]["failures"], 5);
  EXPECT_EQ(j["totals"]["errors"], 1);
  EXPECT_EQ(j["totals"]["skipped"], 1);
  EXPECT_NE(read_text(dir_ / "logs" / "vm-ktap.log").find("not ok 2 fails_on_purpose"),
            std::string::npos);
  EXPECT_NE(read_text(dir_ / "out.xml").find("<testsuites name=\"farm\" tests=\"17\""),
            std::string::npos);
  std::cerr << r.out;  // the summary table, in the suite's log
}

}  // namespace
}  // namespace vmm::test
