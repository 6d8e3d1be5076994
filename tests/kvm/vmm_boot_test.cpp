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
#include <map>
#include <nlohmann/json.hpp>
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

  // The guest kernel command line of start(): the base, the environment's extra, guest_args.
  static std::string guest_cmdline(const std::string& guest_args) {
    const KvmTestEnv& env = KvmTestEnv::get();
    std::string cmdline = kBaseCmdline;
    if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
    return cmdline + " " + guest_args;
  }

  // Starts vmm with the test kernel and initramfs; guest_args go after the base cmdline.
  void start(const std::string& guest_args, std::vector<std::string> vmm_args = {}) {
    const KvmTestEnv& env = KvmTestEnv::get();
    std::vector<std::string> args = {"--kernel", env.kernel,  "--initrd",
                                     env.initrd, "--cmdline", guest_cmdline(guest_args)};
    if (vmm_args.empty()) vmm_args = {"--cpus", "1", "--memory", "512M"};
    args.insert(args.end(), vmm_args.begin(), vmm_args.end());
    start_run(args);
  }

  // Starts `vmm run` with exactly these arguments.
  void start_run(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {KvmTestEnv::get().vmm_bin, "run"};
    argv.insert(argv.end(), args.begin(), args.end());
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

  // The markers of a boot that must reach `VMMTEST: rebooting` and exit 0.
  struct BootMarkers {
    std::optional<std::string> cpus;
    std::optional<std::string> memtotal_kb;
  };
  // The same vCPUs and RAM size. MemTotal itself moves by a page or so between boots of one
  // configuration (where KASLR puts the kernel changes what the kernel reserves).
  static void expect_same_guest(const BootMarkers& got, const BootMarkers& want) {
    EXPECT_EQ(got.cpus, want.cpus);
    ASSERT_TRUE(got.memtotal_kb.has_value() && want.memtotal_kb.has_value());
    EXPECT_NEAR(std::stod(*got.memtotal_kb), std::stod(*want.memtotal_kb), 1024);
  }
  BootMarkers reboot_markers() {
    expect_marker_seen("VMMTEST: rebooting");
    const ExitStatus s = finish();
    EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
    return {marker(vm_->stdout_text(), "cpus"), marker(vm_->stdout_text(), "memtotal_kb")};
  }

  // A file for this test in the scratch directory (the sandbox shares it; its /tmp is small).
  static std::filesystem::path write_scratch(const std::string& name, const std::string& contents) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::filesystem::path dir =
        std::filesystem::path(env_or("VMM_TEST_SCRATCH_DIR", "kvm-scratch")) / "config" /
        info->name();
    std::filesystem::create_directories(dir);
    const auto path = dir / name;
    std::ofstream(path) << contents;
    return std::filesystem::absolute(path);
  }

  static constexpr const char* kBaseCmdline = "console=ttyS0 reboot=k panic=-1 quiet pci=noearly";

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

// --agent appends the agent's archive to the (gzip) test initramfs and starts it as rdinit=:
// the stand-in runs first as PID 1, then the initramfs's own /init boots as usual.
TEST_F(VmmBootTest, AgentRunsFirstFromTheInitramfs) {
  ASSERT_EQ(::setenv("VMM_AGENT_BINARY", VMM_AGENT_STANDIN, 1), 0);
  start("vmmtest=reboot", {"--cpus", "1", "--memory", "512M", "--agent"});
  ::unsetenv("VMM_AGENT_BINARY");
  expect_marker_seen("VMMTEST: agent stand-in pid=1 argv0=/vmm/vmm-agent");
  expect_marker_seen("VMMTEST: init started");
  expect_marker_seen("VMMTEST: rebooting");
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

// The real agent as PID 1 (init-wrapper mode): it forks itself into the background and PID 1
// becomes the initramfs's own /init, which boots as usual (the agent, with no vsock device,
// waits for one in the background).
TEST_F(VmmBootTest, RealAgentHandsPid1ToTheInitramfsInit) {
  ASSERT_EQ(::setenv("VMM_AGENT_BINARY", VMM_AGENT_BIN, 1), 0);
  start("vmmtest=reboot", {"--cpus", "1", "--memory", "512M", "--agent"});
  ::unsetenv("VMM_AGENT_BINARY");
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

// The guest of a --config file (vmm's schema) looks like the guest of the same flags.
TEST_F(VmmBootTest, ConfigFileBootsLikeFlags) {
  start("vmmtest=reboot", {"--cpus", "2", "--memory", "256M"});
  const BootMarkers flags = reboot_markers();
  ASSERT_EQ(flags.cpus, "2");
  ASSERT_TRUE(flags.memtotal_kb.has_value());

  const KvmTestEnv& env = KvmTestEnv::get();
  const nlohmann::json doc = {
      {"boot-source",
       {{"kernel_image_path", env.kernel},
        {"initrd_path", env.initrd},
        {"boot_args", guest_cmdline("vmmtest=reboot")}}},
      {"machine-config", {{"vcpu_count", 2}, {"mem_size_mib", 256}}},
      {"drives", nlohmann::json::array()},
      {"network-interfaces", nlohmann::json::array()},
      {"vmm", {{"console", "serial"}, {"transport", "pci"}, {"kvm_device", "/dev/kvm"}}},
  };
  start_run({"--config", write_scratch("vm.json", doc.dump(2)).string()});
  expect_same_guest(reboot_markers(), flags);
}

// A config file as Firecracker users write it boots too; the keys vmm ignores only warn.
TEST_F(VmmBootTest, FirecrackerConfigFileBoots) {
  const KvmTestEnv& env = KvmTestEnv::get();
  const nlohmann::json doc = {
      {"boot-source",
       {{"kernel_image_path", env.kernel},
        {"boot_args", guest_cmdline("vmmtest=reboot")},
        {"initrd_path", env.initrd}}},
      {"drives", nlohmann::json::array()},
      {"machine-config",
       {{"vcpu_count", 2},
        {"mem_size_mib", 256},
        {"smt", false},
        {"track_dirty_pages", false},
        {"huge_pages", "None"}}},
      {"cpu-config", nullptr},
      {"balloon", nullptr},
      {"network-interfaces", nlohmann::json::array()},
      {"vsock", nullptr},
      {"logger", nullptr},
      {"metrics", nullptr},
      {"mmds-config", nullptr},
      {"entropy", nullptr},
  };
  start_run({"--config", write_scratch("vm_config.json", doc.dump(2)).string()});
  const BootMarkers m = reboot_markers();
  EXPECT_EQ(m.cpus, "2");
  ASSERT_TRUE(m.memtotal_kb.has_value());
  const long long memtotal = std::stoll(*m.memtotal_kb);
  EXPECT_GE(memtotal, 200LL * 1024);
  EXPECT_LE(memtotal, 256LL * 1024);
}

// `--print-config` of a command line, fed back with --config, boots the same guest.
TEST_F(VmmBootTest, PrintedConfigBootsLikeItsFlags) {
  const KvmTestEnv& env = KvmTestEnv::get();
  const std::vector<std::string> args = {
      "--kernel", env.kernel, "--initrd", env.initrd, "--cmdline", guest_cmdline("vmmtest=reboot"),
      "--cpus",   "3",        "--memory", "384M"};
  std::vector<std::string> print = {env.vmm_bin, "run"};
  print.insert(print.end(), args.begin(), args.end());
  print.push_back("--print-config");
  const ToolResult printed = run_tool(print, deadline_);
  ASSERT_TRUE(printed.ok()) << printed.err;
  const auto file = write_scratch("printed.json", printed.out);

  start_run(args);
  const BootMarkers flags = reboot_markers();
  ASSERT_EQ(flags.cpus, "3");
  start_run({"--config", file.string()});
  expect_same_guest(reboot_markers(), flags);
}

// ACPI: the stock kernel finds the tables (no "valid RSDP was not found"), DMI names vmm, the
// CPU has a brand string, and busybox `poweroff -f` (ACPI S5) ends vmm with 0. Without ACPI
// the guest would halt and vmm would run until the test limit.
TEST_F(VmmBootTest, AcpiPowerOffExitsZeroAndThePlatformIsDescribed) {
  const std::string uuid = "6a1b1e7e-7a64-4e8a-9a7e-0123456789ab";
  start("vmmtest=poweroff",
        {"--cpus", "2", "--memory", "512M", "--log-level", "info", "--uuid", uuid});
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
  const std::string console = vm_->stdout_text();
  EXPECT_NE(console.find("VMMTEST: powering off"), std::string::npos);
  EXPECT_EQ(console.find("RSDP was not found"), std::string::npos);
  const std::string tables = marker(console, "acpi_tables").value_or("");
  for (const char* t : {"APIC", "DSDT", "FACP"}) {
    EXPECT_NE(tables.find(t), std::string::npos) << t << " missing from: " << tables;
  }
  EXPECT_EQ(marker(console, "cpus"), "2");  // the MADT's two local APICs
  EXPECT_EQ(marker(console, "dmi_vendor"), "vmm");
  EXPECT_EQ(marker(console, "dmi_product"), "vmm");
  EXPECT_EQ(marker(console, "dmi_uuid"), uuid);
  EXPECT_EQ(console.find("DMI not present"), std::string::npos);
  const std::string model = marker(console, "cpu_model").value_or("");
  EXPECT_FALSE(model.empty());
  EXPECT_EQ(model.find("Hammer"), std::string::npos) << model;
  EXPECT_NE(vm_->stderr_text().find("the guest powered off (S5)"), std::string::npos)
      << vm_->stderr_text();
}

// reboot=acpi goes through the FADT's reset register.
TEST_F(VmmBootTest, AcpiResetExitsZero) {
  start("vmmtest=reboot reboot=acpi", {"--cpus", "1", "--memory", "512M", "--log-level", "info"});
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
  EXPECT_NE(vm_->stderr_text().find("the guest reset the machine"), std::string::npos)
      << vm_->stderr_text();
}

// --on-reboot restart boots the guest again after a reboot; a power-off still ends vmm with 0.
TEST_F(VmmBootTest, OnRebootRestartBootsAgainUntilPowerOff) {
  start("vmmtest=shell", {"--cpus", "1", "--memory", "512M", "--on-reboot", "restart"});
  const auto first = vm_->wait_for_stdout("VMMTEST: shell ready", deadline_);
  ASSERT_TRUE(first.has_value()) << "first boot never reached its shell";
  ASSERT_TRUE(vm_->write_stdin("reboot -f\n", deadline_));
  const auto second = vm_->wait_for_stdout("VMMTEST: shell ready", deadline_, *first);
  ASSERT_TRUE(second.has_value()) << "the guest did not boot a second time";
  ASSERT_TRUE(vm_->write_stdin("poweroff -f\n", deadline_));
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
}

// Jailed, a reboot ends the jail (it gave up root) and the supervisor boots the guest again in a
// new one: the second boot gets its own pid namespace and cgroup, and its API answers again.
TEST_F(VmmBootTest, JailedOnRebootRestartBootsAgainInANewJail) {
  const std::filesystem::path socket = std::filesystem::temp_directory_path() /
                                       ("vmm-jail-restart-" + std::to_string(::getpid()) + ".sock");
  start("vmmtest=shell", {"--cpus", "1", "--memory", "512M", "--on-reboot", "restart", "--jail",
                          "--log-level", "info", "--api-socket", socket.string()});
  const auto first = vm_->wait_for_stdout("VMMTEST: shell ready", deadline_);
  ASSERT_TRUE(first.has_value()) << "first boot never reached its shell" << vm_->stderr_text();
  ASSERT_TRUE(vm_->write_stdin("reboot -f\n", deadline_));
  const auto second = vm_->wait_for_stdout("VMMTEST: shell ready", deadline_, *first);
  ASSERT_TRUE(second.has_value()) << "the guest did not boot a second time" << vm_->stderr_text();
  const ToolResult info = run_tool(
      {KvmTestEnv::get().vmm_bin, "ctl", "--api-socket", socket.string(), "info"}, deadline_);
  EXPECT_TRUE(info.ok()) << info.err;
  ASSERT_TRUE(vm_->write_stdin("poweroff -f\n", deadline_));
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
  const std::string& log = vm_->stderr_text();
  EXPECT_NE(log.find("booting it again in a new jail (boot 2)"), std::string::npos) << log;
  size_t lockdowns = 0;
  for (size_t at = 0; (at = log.find("jail: locked down", at)) != std::string::npos; ++at) {
    ++lockdowns;
  }
  EXPECT_EQ(lockdowns, 2U) << log;
  EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/vmm.jail/" + std::to_string(vm_->pid())));
}

// The power button from the per-VM API (through `vmm ctl`) reaches the guest as an ACPI event;
// the guest's handler powers off and vmm exits 0.
TEST_F(VmmBootTest, PowerButtonFromTheApiShutsTheGuestDown) {
  // Not on the shared scratch directory: its file system has no sockets.
  const std::filesystem::path socket = std::filesystem::temp_directory_path() /
                                       ("vmm-power-" + std::to_string(::getpid()) + ".sock");
  start("vmmtest=powerbutton",
        {"--cpus", "1", "--memory", "512M", "--api-socket", socket.string()});
  ASSERT_TRUE(vm_->wait_for_stdout("VMMTEST: waiting for the power button", deadline_))
      << "the guest found no power button";
  const ToolResult pressed =
      run_tool({KvmTestEnv::get().vmm_bin, "ctl", "--api-socket", socket.string(), "power-button"},
               deadline_);
  EXPECT_TRUE(pressed.ok()) << pressed.err;
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
  EXPECT_NE(vm_->stdout_text().find("VMMTEST: power button pressed"), std::string::npos);
}

// "Seccomp:" of /proc/PID/task/TID/status for each thread of `pid`, by thread name (a name
// that several threads share, vmm-block-io, keeps the lowest mode seen).
std::map<std::string, int> seccomp_by_thread(pid_t pid) {
  std::map<std::string, int> modes;
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm_file(task.path() / "comm");
    std::string comm;
    std::getline(comm_file, comm);
    std::ifstream status(task.path() / "status");
    int mode = -1;
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Seccomp:", 0) == 0) mode = std::stoi(line.substr(8));
    }
    const auto [it, inserted] = modes.emplace(comm, mode);
    if (!inserted) it->second = std::min(it->second, mode);
  }
  return modes;
}

// By default every thread the guest can drive runs under its own seccomp filter (mode 2 in
// /proc): vCPUs, the device loop, the disk's I/O threads, the console input and the API; the
// main thread, which only builds and waits, does not.
TEST_F(VmmBootTest, EveryThreadTheGuestDrivesRunsUnderASeccompFilter) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("vmm-seccomp-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path disk = dir / "data.img";
  { const std::ofstream create(disk); }
  std::filesystem::resize_file(disk, 16 << 20);
  start("vmmtest=shell", {"--cpus", "2", "--memory", "256M", "--disk", disk.string() + ",queues=1",
                          "--api-socket", (dir / "api.sock").string()});
  const auto ready = vm_->wait_for_stdout("VMMTEST: shell ready", deadline_);
  std::map<std::string, int> modes;
  if (ready) modes = seccomp_by_thread(vm_->pid());
  if (ready) (void)vm_->write_stdin("reboot -f\n", deadline_);
  const ExitStatus s = finish();
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(ready.has_value()) << "shell never became ready";
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
  for (const char* name :
       {"vcpu0", "vcpu1", "vmm-device-loop", "vmm-block-io", "vmm-console", "api"}) {
    ASSERT_TRUE(modes.contains(name)) << "no thread named " << name;
    EXPECT_EQ(modes[name], 2) << name << " runs without a seccomp filter";
  }
  EXPECT_EQ(modes["vmm"], 0) << "the main thread";
  EXPECT_EQ(vm_->stderr_text().find("seccomp"), std::string::npos) << vm_->stderr_text();
}

// A guest kernel panic ends vmm with the panic status through pvpanic, even with panic=1
// (which would otherwise reboot the guest and look like success).
TEST_F(VmmBootTest, GuestPanicIsItsOwnExitStatus) {
  start("vmmtest=panic panic=1");
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 4) << s.describe();
  EXPECT_NE(vm_->stdout_text().find("VMMTEST: panicking"), std::string::npos);
}

// The one-line boot from README: a kernel with virtio-blk and ext4 built in and an ext4 image,
// no other flag: vmm adds root=/dev/vda rw, the guest runs the image's init.
TEST_F(VmmBootTest, KernelAndDiskAloneBootTheImagesInit) {
  const std::string cache = cache_dir();
  const std::string kernel = env_or("VMM_TEST_MINIMAL_KERNEL", cache + "/minimal-kernel/bzImage");
  const std::string rootfs = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
  ASSERT_EQ(::access(kernel.c_str(), R_OK), 0) << "missing " << kernel;
  ASSERT_EQ(::access(rootfs.c_str(), R_OK), 0) << "missing " << rootfs;
  const auto disk = write_scratch("root.ext4", "");
  std::filesystem::copy_file(rootfs, disk, std::filesystem::copy_options::overwrite_existing);
  start_run({"--kernel", kernel, "--disk", disk.string()});
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
  EXPECT_NE(vm_->stdout_text().find("VMMTEST: rootfs init started"), std::string::npos);
  EXPECT_EQ(marker(vm_->stdout_text(), "root_mount").value_or("/dev/vda ext4 rw"),
            "/dev/vda ext4 rw");
}

// --transport mmio with Debian's stock kernel: its virtio_mmio driver finds the devices in the
// DSDT (LNRO0005), with no virtio_mmio.device= on the command line.
TEST_F(VmmBootTest, StockKernelFindsMmioDevicesThroughAcpi) {
  const std::string cache = cache_dir();
  const std::string initrd = env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz");
  const std::string rootfs = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
  ASSERT_EQ(::access(initrd.c_str(), R_OK), 0) << "missing " << initrd;
  ASSERT_EQ(::access(rootfs.c_str(), R_OK), 0) << "missing " << rootfs;
  const auto disk = write_scratch("root.ext4", "");
  std::filesystem::copy_file(rootfs, disk, std::filesystem::copy_options::overwrite_existing);
  start_run({"--kernel", KvmTestEnv::get().kernel, "--initrd", initrd, "--disk", disk.string(),
             "--transport", "mmio", "--cmdline-append", "quiet rd.emergency=reboot vmmtest=info"});
  const ExitStatus s = finish();
  EXPECT_TRUE(s.exited && s.code == 0) << s.describe();
  const std::string console = vm_->stdout_text();
  EXPECT_EQ(console.find("virtio_mmio.device="), std::string::npos);
  EXPECT_NE(console.find("VMMTEST: rootfs init started"), std::string::npos);
  EXPECT_EQ(marker(console, "root_mount"), "/dev/vda ext4 rw");
}

// acpi=off: the guest falls back to the MP table (CPUs, IOAPIC) and still boots and reboots.
TEST_F(VmmBootTest, AcpiOffFallsBackToTheMpTable) {
  start("vmmtest=reboot acpi=off", {"--cpus", "2", "--memory", "512M"});
  const BootMarkers m = reboot_markers();
  EXPECT_EQ(m.cpus, "2");
  EXPECT_EQ(marker(vm_->stdout_text(), "acpi_tables"), "");
}

}  // namespace
}  // namespace vmm::test
