// End-to-end tests: the real vmm binary boots Debian's stock kernel with the test initramfs
// (firmware/build-test-initramfs.sh) and the tests read the init's `VMMTEST:` markers from the
// serial console on vmm's stdout. They need /dev/kvm; CTest runs them inside tests/sandbox.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {
namespace {

using namespace std::chrono_literals;

std::string utc_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

class VmmBootTest : public KvmTest {
 protected:
  // Saves the console and vmm's own log of this boot; printed too when the test failed.
  void TearDown() override {
    if (!vm_) return;
    vm_->kill();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::filesystem::path log_dir = KvmTestEnv::get().log_dir;
    std::error_code ec;
    std::filesystem::create_directories(log_dir, ec);
    const auto path = log_dir / (std::string(info->name()) + ".log");
    std::ofstream(path) << "$ " << command_line_ << "\n--- console (stdout) ---\n"
                        << vm_->stdout_text() << "\n--- vmm log (stderr) ---\n"
                        << vm_->stderr_text();
    if (HasFailure()) {
      std::fprintf(stderr, "--- %s: console ---\n%s\n--- vmm stderr ---\n%s\n--- saved in %s\n",
                   info->name(), vm_->stdout_text().c_str(), vm_->stderr_text().c_str(),
                   path.c_str());
    }
  }

  // Starts vmm with the test kernel and initramfs; guest_args go after the base cmdline.
  void start(const std::string& guest_args, std::vector<std::string> vmm_args = {}) {
    const KvmTestEnv& env = KvmTestEnv::get();
    std::string cmdline = kBaseCmdline;
    if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
    cmdline += " " + guest_args;
    std::vector<std::string> argv = {env.vmm_bin, "run",      "--kernel",  env.kernel,
                                     "--initrd",  env.initrd, "--cmdline", cmdline};
    if (vmm_args.empty()) vmm_args = {"--cpus", "1", "--memory", "512M"};
    argv.insert(argv.end(), vmm_args.begin(), vmm_args.end());
    command_line_.clear();
    for (const auto& a : argv) {
      const bool quote = a.find(' ') != std::string::npos;
      command_line_ += (command_line_.empty() ? "" : " ") + (quote ? "'" + a + "'" : a);
    }
    vm_.emplace(Subprocess::spawn(argv));
  }

  // Waits for the VM to end within the test's limit; kills it and fails otherwise.
  ExitStatus finish() {
    auto status = vm_->wait(deadline_);
    if (!status) {
      vm_->kill();
      ADD_FAILURE() << "vmm did not exit within the test limit; killed";
      return ExitStatus{};
    }
    return *status;
  }

  void expect_marker_seen(const std::string& text) {
    EXPECT_TRUE(vm_->wait_for_stdout(text, deadline_).has_value())
        << "console never showed '" << text << "'";
  }

  static constexpr const char* kBaseCmdline = "console=ttyS0 reboot=k panic=-1 quiet";

  std::optional<Subprocess> vm_;
  std::string command_line_;
};

TEST_F(VmmBootTest, BootsToInit) {
  start("vmmtest=reboot");
  expect_marker_seen("VMMTEST: init started");
  expect_marker_seen("VMMTEST: rebooting");
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

TEST_F(VmmBootTest, OneCpu) {
  start("vmmtest=reboot", {"--cpus", "1", "--memory", "512M"});
  ASSERT_TRUE(vm_->wait_for_stdout("VMMTEST: action=", deadline_));
  EXPECT_EQ(marker(vm_->stdout_text(), "cpus"), "1");
  EXPECT_EQ(marker(vm_->stdout_text(), "cpus_online"), "0");
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

TEST_F(VmmBootTest, FourCpus) {
  start("vmmtest=reboot", {"--cpus", "4", "--memory", "512M"});
  ASSERT_TRUE(vm_->wait_for_stdout("VMMTEST: action=", deadline_));
  EXPECT_EQ(marker(vm_->stdout_text(), "cpus"), "4");
  EXPECT_EQ(marker(vm_->stdout_text(), "cpus_online"), "0-3");
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

TEST_F(VmmBootTest, MemorySizeReachesGuest) {
  start("vmmtest=reboot", {"--cpus", "1", "--memory", "256M"});
  ASSERT_TRUE(vm_->wait_for_stdout("VMMTEST: action=", deadline_));
  const auto kb = marker(vm_->stdout_text(), "memtotal_kb");
  ASSERT_TRUE(kb.has_value());
  const long long memtotal = std::stoll(*kb);
  // MemTotal excludes the kernel image and reserved ranges, but can never exceed the RAM given.
  EXPECT_GE(memtotal, 200LL * 1024);
  EXPECT_LE(memtotal, 256LL * 1024);
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

// 5 GiB: 3 GiB below the MMIO hole and 2 GiB above 4 GiB, all of it visible to the guest.
TEST_F(VmmBootTest, MemoryAbove4GiBReachesGuest) {
  start("vmmtest=reboot", {"--cpus", "1", "--memory", "5G"});
  ASSERT_TRUE(vm_->wait_for_stdout("VMMTEST: action=", deadline_));
  const auto kb = marker(vm_->stdout_text(), "memtotal_kb");
  ASSERT_TRUE(kb.has_value()) << "no memtotal_kb marker";
  const long long memtotal = std::stoll(*kb);
  EXPECT_GE(memtotal, 4800LL * 1024);
  EXPECT_LE(memtotal, 5LL * 1024 * 1024);
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

TEST_F(VmmBootTest, GuestDateIsHostDate) {
  const std::string before = utc_date(std::time(nullptr));
  start("vmmtest=reboot");
  ASSERT_TRUE(vm_->wait_for_stdout("VMMTEST: action=", deadline_));
  const std::string after = utc_date(std::time(nullptr));
  const auto date = marker(vm_->stdout_text(), "date");
  ASSERT_TRUE(date.has_value());
  // The guest reads the RTC; a boot may straddle midnight, so either day is right.
  EXPECT_TRUE(*date == before || *date == after)
      << "guest date " << *date << ", host date " << before << " .. " << after;
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

TEST_F(VmmBootTest, GuestRebootExitsZero) {
  start("vmmtest=reboot");
  const ExitStatus s = finish();
  EXPECT_TRUE(vm_->stdout_text().find("VMMTEST: rebooting") != std::string::npos);
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

TEST_F(VmmBootTest, DebugExitSetsExitStatus) {
  start("vmmtest=debugexit=3");
  const ExitStatus s = finish();
  EXPECT_TRUE(vm_->stdout_text().find("VMMTEST: debug exit 3") != std::string::npos);
  EXPECT_TRUE(s.exited && s.code == ((3 << 1) | 1)) << s.describe();
}

TEST_F(VmmBootTest, TimeoutStopsSleepingGuest) {
  start("vmmtest=sleep", {"--cpus", "1", "--memory", "512M", "--timeout", "20"});
  const auto started = Clock::now();
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 124) << s.describe();
  EXPECT_GE(Clock::now() - started, 19s) << "vmm stopped before its --timeout";
}

TEST_F(VmmBootTest, ShellAnswersOnSerialConsole) {
  start("vmmtest=shell");
  const auto ready = vm_->wait_for_stdout("VMMTEST: shell ready", deadline_);
  ASSERT_TRUE(ready.has_value()) << "shell never became ready";
  ASSERT_TRUE(vm_->write_stdin("echo $((6*7))\n", deadline_));
  // The tty echoes the command line itself, which does not contain 42; the answer is a line
  // (the console tty turns its newline into CRLF).
  const auto answer = vm_->wait_for_stdout("42\r\n", deadline_, *ready);
  EXPECT_TRUE(answer.has_value()) << "no '42' line after the shell command";
  ASSERT_TRUE(vm_->write_stdin("reboot -f\n", deadline_));
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

}  // namespace
}  // namespace vmm::test
