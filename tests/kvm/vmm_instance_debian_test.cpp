// The Debian 12 systemd image of firmware/build-debian-image.sh as a VM instance under
// `vmm daemon`: `vmm launch IMAGE NAME --vm` boots it on the stock kernel to multi-user with no
// failed unit, and `vmm stop` ends it by the ACPI power button (logind, then systemd's power-off),
// not by the kill after the timeout. The image gets one more unit before it is imported: it
// waits for the boot to finish and writes on the console what `systemctl is-system-running
// --wait` says and which units failed. The guest agent comes with the instance's disk and its
// own systemd unit: exec reaches the booted system. One boot.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "instance_test_support.hpp"
#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;

// Started once multi-user.target is reached. Type=simple: its own start job is done when it
// runs, so `is-system-running --wait` does not wait for it. Kernel messages are kept off the
// console (dmesg -n 1) so that they do not land inside a marker; the power-off's still shows.
constexpr const char* kReportUnit = R"unit([Unit]
Description=Report the boot's state on the console
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/vmm-test-report

[Install]
WantedBy=multi-user.target
)unit";

constexpr const char* kReportScript = R"sh(#!/bin/sh
dmesg -n 1
state=$(systemctl is-system-running --wait)
{
  echo "VMMTEST: uptime=$(cut -d' ' -f1 /proc/uptime)"
  echo "VMMTEST: analyze=$(systemd-analyze time 2>&1 | head -1)"
  systemctl --failed --no-legend --plain | sed 's/^/VMMTEST: failed unit: /'
  echo "VMMTEST: failed=$(systemctl --failed --no-legend --plain | wc -l)"
  echo "VMMTEST: state=$state"
  echo "VMMTEST: reported"
} >/dev/console 2>&1
)sh";

class InstanceDebianTest : public InstanceDaemonTest {
 protected:
  void SetUp() override {
    InstanceDaemonTest::SetUp();
    if (HasFatalFailure()) return;
    name_ = "deb";
    // The image's unpacking and import, a full systemd boot and its shutdown under the nested
    // sandbox: minutes, as the Debian test of `vmm run`.
    deadline_ = Clock::now() + 3 * KvmTestEnv::get().test_limit;
  }

  void TearDown() override {
    if (!daemon_) {
      InstanceDaemonTest::TearDown();
      return;
    }
    std::error_code ec;
    fs::create_directories(KvmTestEnv::get().log_dir, ec);
    std::ofstream(fs::path(KvmTestEnv::get().log_dir) / "Instance_Debian.log")
        << "--- console.log ---\n"
        << console() << "\n--- daemon ---\n"
        << daemon_->stderr_text();
    InstanceDaemonTest::TearDown();
  }
};

// The image's tree with the report unit enabled.
void add_report_unit(const fs::path& tree) {
  const fs::path units = tree / "etc/systemd/system";
  fs::create_directories(units / "multi-user.target.wants");
  std::ofstream(units / "vmm-test-report.service") << kReportUnit;
  fs::create_symlink("/etc/systemd/system/vmm-test-report.service",
                     units / "multi-user.target.wants/vmm-test-report.service");
  const fs::path script = tree / "usr/local/sbin/vmm-test-report";
  fs::create_directories(script.parent_path());
  std::ofstream(script) << kReportScript;
  fs::permissions(script, fs::perms(0755));
}

TEST_F(InstanceDebianTest, VmBootsToMultiUserWithNoFailedUnitAndStopsByThePowerButton) {
  const std::string image = env_or("VMM_TEST_DEBIAN_IMAGE", cache_dir() + "/debian-12.ext4");
  ASSERT_EQ(::access(image.c_str(), R_OK), 0)
      << "missing " << image << " (the kvm_assets test builds it)";
  const fs::path tree = work_ / "debian";
  unpack_ext4(image, tree);
  ASSERT_FALSE(HasFailure());
  add_report_unit(tree);
  // The disk gets the guest agent (build/vmm-agent, beside vmm) and its systemd unit; the
  // image's tree does not. systemd's status lines on the console, for the log of a failure and
  // to show the shutdown.
  ASSERT_NO_FATAL_FAILURE(start_daemon("systemd.show_status=1",
                                       {"--bridge", test_bridge(), "--subnet", "10.213.8.1/24"}));
  const ToolResult imported = vmm({"image", "import", tree.string(), "--alias", "debian/12"});
  ASSERT_TRUE(imported.ok()) << imported.err;
  fs::remove_all(tree);  // the store has its copy; /tmp is memory in the sandbox

  // The instance's defaults: one vCPU, 512 MiB, a NIC on the daemon's bridge.
  const auto launch_begin = Clock::now();
  const ToolResult launched = vmm({"launch", "debian/12", name_, "--vm"});
  ASSERT_TRUE(launched.ok()) << launched.out << launched.err;
  const auto launched_at = Clock::now();
  EXPECT_EQ(listed(), "RUNNING,VIRTUAL-MACHINE");
  ASSERT_TRUE(wait_console("VMMTEST: reported")) << "the boot was never reported";
  const auto reported_at = Clock::now();
  const std::string booted = console();
  EXPECT_EQ(marker(booted, "state"), "running") << "systemd is not in multi-user, all started";
  EXPECT_EQ(marker(booted, "failed"), "0") << "units failed";
  std::printf(
      "launch returned (disk made, VM started, agent answered): %lld ms; launch to multi-user, all "
      "started: %lld ms (guest uptime %s s; %s)\n",
      millis(launched_at - launch_begin), millis(reported_at - launch_begin),
      marker(booted, "uptime").value_or("?").c_str(),
      marker(booted, "analyze").value_or("?").c_str());

  // The agent came in with the instance's disk, started by its own systemd unit.
  const ToolResult unit = vmm({"exec", name_, "--", "systemctl", "is-active", "vmm-agent.service"});
  EXPECT_EQ(unit.out, "active\n") << unit.err;
  const ToolResult hostname = vmm({"exec", name_, "--", "cat", "/etc/os-release"});
  EXPECT_NE(hostname.out.find("Debian GNU/Linux 12"), std::string::npos) << hostname.err;
  // The image's own DHCP client (systemd-networkd) leased the address the daemon gave it.
  const std::string address = wait_ipv4(name_);
  std::printf("launch to the address listed: %lld ms\n", millis(Clock::now() - launch_begin));
  EXPECT_EQ(address.rfind("10.213.8.", 0), 0U) << vmm({"list"}).out;
  const ToolResult ip = vmm({"exec", name_, "--", "ip", "-4", "-o", "addr", "show"});
  EXPECT_NE(ip.out.find(address + "/24"), std::string::npos) << ip.out << ip.err;

  // The power button: logind powers the system off, long before the stop's timeout.
  const pid_t pid = vm_pid();
  ASSERT_GT(pid, 0);
  constexpr long long kStopTimeoutS = 120;
  const auto stop_begin = Clock::now();
  const ToolResult stopped = vmm({"stop", name_, "--timeout", std::to_string(kStopTimeoutS)});
  const long long stop_ms = millis(Clock::now() - stop_begin);
  EXPECT_TRUE(stopped.ok()) << stopped.err;
  std::printf("stop by the power button: %lld ms\n", stop_ms);
  EXPECT_LT(stop_ms, kStopTimeoutS * 1000) << "stopped by the timeout's kill, not the guest";
  const std::string after = console();
  EXPECT_NE(after.find("System Power Off"), std::string::npos) << "systemd never powered off";
  EXPECT_NE(after.find("reboot: Power down"), std::string::npos)
      << "the guest kernel never powered off";
  EXPECT_EQ(listed(), "STOPPED,VIRTUAL-MACHINE");
  EXPECT_NE(::kill(pid, 0), 0) << "vmm run still lives after the stop";
}

}  // namespace
}  // namespace vmm::test
