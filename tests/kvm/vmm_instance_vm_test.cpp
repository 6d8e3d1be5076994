// VM instances through the daemon and the lxc-like CLI: `vmm launch IMAGE NAME --vm` boots the
// stock kernel (with the root-on-disk initramfs) on the instance's own ext4 disk made from the
// image. The image is the test root file system with an init that powers off on the ACPI power
// button, so `vmm stop` ends the guest cleanly. Four short boots: launch, stop by the power
// button, start (the disk kept what the first boot wrote), the daemon killed and started again
// (the VM still runs and is adopted), a snapshot of the running VM, pause and resume, restart,
// restore of the snapshot, and delete leaving nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;

// The image's /sbin/init: counts its boots on the root disk, then waits for the power button
// (the stock kernel's button and evdev modules are in the image) and powers off.
constexpr const char* kInit = R"init(#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
grep -q ' /proc ' /proc/mounts 2>/dev/null || mount -t proc proc /proc
grep -q ' /sys ' /proc/mounts || mount -t sysfs sysfs /sys
grep -q ' /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
insmod /lib/vmm-test/evdev.ko
insmod /lib/vmm-test/button.ko
echo boot >>/boots
sync
echo "VMMTEST: boots=$(wc -l </boots) root=$(awk '$2 == "/" { print $3 }' /proc/mounts | tail -1)"
event=""
for try in $(seq 50); do
  for dev in /sys/class/input/event*; do
    [ "$(cat "$dev/device/name" 2>/dev/null)" = "Power Button" ] && event=/dev/input/${dev##*/}
  done
  [ -n "$event" ] && break
  usleep 100000
done
if [ -z "$event" ]; then
  echo "VMMTEST: no power button"
  while :; do sleep 3600; done
fi
echo "VMMTEST: waiting for the power button"
head -c 1 "$event" >/dev/null
echo "VMMTEST: power button pressed"
poweroff -f
)init";

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

class InstanceVmTest : public KvmTest {
 protected:
  void SetUp() override {
    KvmTest::SetUp();
    if (HasFatalFailure()) return;
    // Two stock-kernel boots under the nested sandbox.
    deadline_ = Clock::now() + 2 * KvmTestEnv::get().test_limit;
    work_ = fs::temp_directory_path() / ("vmm-instance-vm-" + std::to_string(::getpid()));
    fs::remove_all(work_);
    fs::create_directories(work_);
    socket_ = work_ / "vmm.sock";
    state_ = work_ / "state";
    ::setenv("VMM_SOCKET", socket_.c_str(), 1);
  }

  void TearDown() override {
    // A VM that a failure left running is nobody's child: kill it by its pid file.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(state_ / "instances", ec)) {
      std::istringstream pid_file(read_file(entry.path() / "vm.pid"));
      pid_t pid = 0;
      if (pid_file >> pid && pid > 0) ::kill(pid, SIGKILL);
      if (HasFailure()) {
        std::fprintf(stderr, "--- %s console.log ---\n%s\n", entry.path().filename().c_str(),
                     read_file(entry.path() / "console.log").c_str());
      }
    }
    if (daemon_) {
      daemon_->kill();
      if (HasFailure())
        std::fprintf(stderr, "--- daemon ---\n%s\n", daemon_->stderr_text().c_str());
    }
    fs::remove_all(work_, ec);
    ::unsetenv("VMM_SOCKET");
  }

  void start_daemon() {
    const std::string cache = cache_dir();
    std::vector<std::string> argv = {
        KvmTestEnv::get().vmm_bin,
        "daemon",
        "--foreground",
        "--socket",
        socket_.string(),
        "--state-dir",
        state_.string(),
        "--group",
        "",
        "--bridge",
        "",
        "--kernel",
        KvmTestEnv::get().kernel,
        "--initrd",
        env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz")};
    const std::string& extra = KvmTestEnv::get().cmdline_extra;
    if (!extra.empty()) argv.insert(argv.end(), {"--vm-cmdline-append", extra});
    daemon_.emplace(Subprocess::spawn(argv));
    const auto up_by = std::min(deadline_, Clock::now() + std::chrono::seconds(60));
    while (Clock::now() < up_by) {
      if (fs::exists(socket_) && vmm({"list"}).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the daemon did not come up: " << daemon_->stderr_text();
  }

  ToolResult vmm(std::vector<std::string> args) const {
    args.insert(args.begin(), KvmTestEnv::get().vmm_bin);
    return run_tool(args, deadline_);
  }

  [[nodiscard]] fs::path instance_dir() const { return state_ / "instances" / "vm1"; }
  [[nodiscard]] std::string console() const { return read_file(instance_dir() / "console.log"); }

  // Waits for the console to hold `needle` `times` times.
  bool wait_console(const std::string& needle, size_t times = 1) const {
    while (Clock::now() < deadline_) {
      if (count_of(console(), needle) >= times) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  // "STATE,TYPE" of vm1 from `vmm list --format csv`.
  std::string listed() const {
    const ToolResult r = vmm({"list", "--format", "csv"});
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with("vm1,")) continue;
      std::istringstream fields(line);
      std::string name;
      std::string state;
      std::string type;
      std::getline(fields, name, ',');
      std::getline(fields, state, ',');
      std::getline(fields, type, ',');
      state += ",";
      state += type;
      return state;
    }
    return "not listed: " + r.out + r.err;
  }

  pid_t vm_pid() const {
    const ToolResult r = vmm({"info", "vm1"});
    const auto at = r.out.find("PID: ");
    return at == std::string::npos ? 0 : std::stoi(r.out.substr(at + 5));
  }

  fs::path work_;
  fs::path socket_;
  fs::path state_;
  std::optional<Subprocess> daemon_;
};

// The image: the test root file system, this test's init, the power button's modules.
fs::path make_image_tree(const fs::path& work) {
  const std::string cache = cache_dir();
  fs::path tree = work / "rootfs";
  fs::create_directories(tree);
  const std::string source = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
  const ToolResult dumped = run_tool({"debugfs", "-R", "rdump / " + tree.string(), source},
                                     Clock::now() + std::chrono::seconds(60));
  EXPECT_TRUE(dumped.ok()) << dumped.err;
  fs::remove(tree / "sbin/init");
  std::ofstream(tree / "sbin/init") << kInit;
  fs::permissions(tree / "sbin/init", fs::perms(0755));
  // The modules of the kernel the sandbox and the test boot (fetch-debian-kernel.sh's tree).
  fs::path modules;
  for (const auto& entry : fs::directory_iterator(fs::path(cache) / "kernel/modules")) {
    modules = entry.path() / "kernel/drivers";
  }
  fs::create_directories(tree / "lib/vmm-test");
  fs::copy_file(modules / "input/evdev.ko", tree / "lib/vmm-test/evdev.ko");
  fs::copy_file(modules / "acpi/button.ko", tree / "lib/vmm-test/button.ko");
  return tree;
}

TEST_F(InstanceVmTest, LaunchStopStartAdoptSnapshotDelete) {
  const fs::path tree = make_image_tree(work_);
  ASSERT_FALSE(HasFailure());
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  const ToolResult imported = vmm({"image", "import", tree.string(), "--alias", "testroot"});
  ASSERT_TRUE(imported.ok()) << imported.err;

  const auto launch_begin = Clock::now();
  const ToolResult launched =
      vmm({"launch", "testroot", "vm1", "--vm", "--network", "none", "--memory", "256MiB"});
  ASSERT_TRUE(launched.ok()) << launched.out << launched.err;
  const auto running_at = Clock::now();
  EXPECT_EQ(listed(), "RUNNING,VIRTUAL-MACHINE");
  ASSERT_TRUE(wait_console("VMMTEST: waiting for the power button")) << "the guest did not boot:\n"
                                                                     << console();
  const auto booted_at = Clock::now();
  EXPECT_NE(console().find("VMMTEST: boots=1 root=ext4"), std::string::npos) << console();
  const auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::printf("launch to RUNNING: %lld ms; launch to guest init waiting: %lld ms\n",
              static_cast<long long>(ms(running_at - launch_begin)),
              static_cast<long long>(ms(booted_at - launch_begin)));
  const pid_t pid = vm_pid();
  ASSERT_GT(pid, 0);
  // What an idle VM instance costs the host.
  const std::string rollup = read_file("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (const char* field : {"Rss:", "Pss:"}) {
    const auto at = rollup.find(field);
    if (at != std::string::npos) {
      std::printf("idle vmm run %s\n", rollup.substr(at, rollup.find('\n', at) - at).c_str());
    }
  }
  const ToolResult list_table = vmm({"list"});
  std::printf("%s", list_table.out.c_str());

  const ToolResult exec = vmm({"exec", "vm1", "--", "true"});
  EXPECT_FALSE(exec.ok());
  EXPECT_NE(exec.err.find("needs the guest agent"), std::string::npos) << exec.err;

  // The power button: the guest's init powers off well within the timeout.
  const auto stop_begin = Clock::now();
  const ToolResult stopped = vmm({"stop", "vm1", "--timeout", "60"});
  EXPECT_TRUE(stopped.ok()) << stopped.err;
  const auto stop_ms = ms(Clock::now() - stop_begin);
  std::printf("stop by the power button: %lld ms\n", static_cast<long long>(stop_ms));
  EXPECT_LT(stop_ms, 60'000) << "stopped by the timeout, not the guest";
  EXPECT_NE(console().find("VMMTEST: power button pressed"), std::string::npos) << console();
  EXPECT_EQ(listed(), "STOPPED,VIRTUAL-MACHINE");
  EXPECT_NE(::kill(pid, 0), 0) << "vmm run still lives after the stop";

  const ToolResult started = vmm({"start", "vm1"});
  ASSERT_TRUE(started.ok()) << started.err;
  ASSERT_TRUE(wait_console("VMMTEST: waiting for the power button", 2)) << console();
  EXPECT_NE(console().find("VMMTEST: boots=2"), std::string::npos) << "the disk forgot a boot";
  const pid_t second = vm_pid();

  // The daemon dies; the VM does not, and the next daemon adopts it.
  daemon_->kill();
  daemon_.reset();
  EXPECT_EQ(::kill(second, 0), 0) << "the VM died with the daemon";
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  EXPECT_EQ(listed(), "RUNNING,VIRTUAL-MACHINE");
  EXPECT_EQ(vm_pid(), second);
  std::printf("after the daemon's restart:\n%s", vmm({"list"}).out.c_str());

  const ToolResult snap = vmm({"snapshot", "vm1", "s1"});
  EXPECT_TRUE(snap.ok()) << snap.err;
  EXPECT_TRUE(fs::is_regular_file(instance_dir() / "snapshots/s1/root.img"));
  EXPECT_EQ(listed(), "RUNNING,VIRTUAL-MACHINE") << "the snapshot left the VM paused";

  // Paused and resumed through the VM's API.
  EXPECT_TRUE(vmm({"pause", "vm1"}).ok());
  EXPECT_EQ(listed(), "FROZEN,VIRTUAL-MACHINE");
  EXPECT_TRUE(vmm({"resume", "vm1"}).ok());
  EXPECT_EQ(listed(), "RUNNING,VIRTUAL-MACHINE");

  // The restart's boot is the third on the disk; the restore brings back the disk of s1 (two
  // boots), so the boot after it is the third again.
  const ToolResult restarted = vmm({"restart", "vm1", "--timeout", "60"});
  EXPECT_TRUE(restarted.ok()) << restarted.err;
  ASSERT_TRUE(wait_console("VMMTEST: waiting for the power button", 3)) << console();
  const ToolResult restored = vmm({"restore", "vm1", "s1"});
  EXPECT_TRUE(restored.ok()) << restored.err;
  ASSERT_TRUE(wait_console("VMMTEST: waiting for the power button", 4)) << console();
  EXPECT_EQ(count_of(console(), "VMMTEST: boots=3"), 2U) << console();
  const pid_t last = vm_pid();
  ASSERT_GT(last, 0);

  const ToolResult deleted = vmm({"delete", "--force", "vm1"});
  EXPECT_TRUE(deleted.ok()) << deleted.err;
  EXPECT_FALSE(fs::exists(instance_dir()));
  for (int i = 0; i < 50 && ::kill(last, 0) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Gone, or a zombie its new parent has not reaped yet.
  const std::string stat = read_file("/proc/" + std::to_string(last) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
  EXPECT_EQ(listed().rfind("not listed", 0), 0U);
}

}  // namespace
}  // namespace vmm::test
