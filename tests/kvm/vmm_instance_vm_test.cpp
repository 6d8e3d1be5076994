// VM instances through the daemon and the lxc-like CLI: `vmm launch IMAGE NAME --vm` boots the
// stock kernel (with the root-on-disk initramfs) on the instance's own ext4 disk made from the
// image. The image is the test root file system with an init that powers off on the ACPI power
// button, so `vmm stop` ends the guest cleanly. Four short boots: launch, stop by the power
// button, start (the disk kept what the first boot wrote), the daemon killed and started again
// (the VM still runs and is adopted), a snapshot of the running VM, pause and resume, restart,
// restore of the snapshot, and delete leaving nothing. The image has no agent of its own: the
// daemon boots it with the agent in the initramfs, so exec and files work from the launch on (a
// file written by one exec is read by the next, survives stop/start, and comes back with the
// snapshot after it was deleted), and exit statuses come back exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "instance_test_support.hpp"
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
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  if udhcpc -i eth0 -s /etc/udhcpc/default.script -n -q -t 30 -T 1 >/dev/null 2>&1; then
    echo "VMMTEST: dhcp $(ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
  else
    echo "VMMTEST: dhcp failed"
  fi
fi
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

class InstanceVmTest : public InstanceDaemonTest {
 protected:
  void SetUp() override {
    InstanceDaemonTest::SetUp();
    if (HasFatalFailure()) return;
    // Two stock-kernel boots under the nested sandbox.
    deadline_ = Clock::now() + 2 * KvmTestEnv::get().test_limit;
  }
};

// The image: the test root file system, this test's init, the power button's modules.
fs::path make_image_tree(const fs::path& work) {
  const std::string cache = cache_dir();
  fs::path tree = work / "rootfs";
  const std::string source = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
  unpack_ext4(source, tree);
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

// The cgroup of process `pid` that an instance manager made ("vmm.vms-HASH/NAME"), or "".
std::string vm_cgroup_of(pid_t pid) {
  std::istringstream lines(read_file("/proc/" + std::to_string(pid) + "/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("/vmm.vms-");
    if (at != std::string::npos) return line.substr(at + 1);
  }
  return "";
}

// Whether a cgroup directory `relative` exists in any hierarchy under /sys/fs/cgroup.
bool cgroup_exists(const std::string& relative) {
  if (fs::exists(fs::path("/sys/fs/cgroup") / relative)) return true;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    if (entry.is_directory(ec) && fs::exists(entry.path() / relative)) return true;
  }
  return false;
}

// Median and minimum of ten `vmm exec NAME -- true`, printed for the closing figures.
template <typename Exec>
void print_exec_latency(const char* kind, Exec exec) {
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    const auto begin = Clock::now();
    ASSERT_TRUE(exec());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%s: vmm exec -- true: median %.1f ms, min %.1f ms\n", kind, ms[ms.size() / 2],
              ms.front());
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
  // The VM's process is in a cgroup of its own (where the host has cgroups: the sandbox mounts
  // cgroup2, as a systemd host does).
  const bool host_has_cgroups =
      fs::exists("/sys/fs/cgroup/cgroup.controllers") || fs::exists("/sys/fs/cgroup/memory");
  const std::string cgroup = vm_cgroup_of(pid);
  if (host_has_cgroups) {
    EXPECT_TRUE(cgroup.ends_with("/vm1")) << read_file("/proc/" + std::to_string(pid) + "/cgroup");
    EXPECT_TRUE(cgroup_exists(cgroup)) << cgroup;
  } else {
    std::printf("SKIPPED: the VM's own cgroup (no cgroup file system here)\n");
  }
  // A root daemon jails its VMs: the VMM itself runs as the unprivileged user, in the jail's
  // cgroup, its pid namespace's first process.
  if (host_has_cgroups && ::geteuid() == 0) {
    std::string jailed;
    for (const char* base : {"/sys/fs/cgroup/vmm.jail/", "/sys/fs/cgroup/pids/vmm.jail/"}) {
      std::ifstream procs(base + std::to_string(pid) + "/cgroup.procs");
      if (procs && std::getline(procs, jailed)) break;
    }
    ASSERT_FALSE(jailed.empty()) << "no jail cgroup for vmm run " << pid;
    const std::string status = read_file("/proc/" + jailed + "/status");
    EXPECT_NE(status.find("Uid:\t65534\t65534\t65534\t65534"), std::string::npos) << status;
    EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos) << status;
    EXPECT_NE(status.find("NSpid:\t" + jailed + "\t1\n"), std::string::npos) << status;
  }
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

  // The launch returned once the guest agent answered: exec works at once.
  const ToolResult wrote = vmm({"exec", "vm1", "--", "sh", "-c", "echo kept > /root/hi.txt"});
  EXPECT_TRUE(wrote.ok()) << wrote.err;
  std::printf("launch to a first successful exec: %lld ms\n",
              static_cast<long long>(ms(Clock::now() - launch_begin)));
  const ToolResult read_back = vmm({"exec", "vm1", "--", "cat", "/root/hi.txt"});
  EXPECT_TRUE(read_back.ok()) << read_back.err;
  EXPECT_EQ(read_back.out, "kept\n");
  EXPECT_EQ(vmm({"exec", "vm1", "--", "sh", "-c", "exit 7"}).status.code, 7);
  EXPECT_EQ(vmm({"exec", "vm1", "--", "/no/such/command"}).status.code, 127);
  EXPECT_EQ(vmm({"exec", "vm1", "--", "/etc"}).status.code, 126);  // a directory
  const ToolResult hostname = vmm({"exec", "vm1", "--", "hostname"});
  EXPECT_TRUE(hostname.ok()) << hostname.err;
  EXPECT_TRUE(vmm({"wait", "vm1", "--agent", "--timeout", "30"}).ok());
  print_exec_latency("VM", [&] { return vmm({"exec", "vm1", "--", "true"}).ok(); });

  // Files through the agent, with mode and owner, and back.
  const fs::path local = work_ / "pushed.txt";
  std::ofstream(local) << "pushed through the agent\n";
  const ToolResult pushed = vmm({"file", "push", local.string(), "vm1/root/pushed.txt", "--mode",
                                 "0640", "--uid", "1000", "--gid", "1001"});
  EXPECT_TRUE(pushed.ok()) << pushed.err;
  const ToolResult attributes =
      vmm({"exec", "vm1", "--", "stat", "-c", "%a %u %g", "/root/pushed.txt"});
  EXPECT_EQ(attributes.out, "640 1000 1001\n") << attributes.err;
  const fs::path pulled = work_ / "pulled.txt";
  const ToolResult pull = vmm({"file", "pull", "vm1/root/pushed.txt", pulled.string()});
  EXPECT_TRUE(pull.ok()) << pull.err;
  EXPECT_EQ(read_file(pulled), "pushed through the agent\n");
  EXPECT_TRUE(vmm({"file", "delete", "vm1/root/pushed.txt"}).ok());
  EXPECT_EQ(vmm({"exec", "vm1", "--", "test", "-e", "/root/pushed.txt"}).status.code, 1);

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
  const ToolResult survived = vmm({"exec", "vm1", "--", "cat", "/root/hi.txt"});
  EXPECT_EQ(survived.out, "kept\n") << survived.err;
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
  // Deleted after the snapshot: the restore below brings it back.
  EXPECT_TRUE(vmm({"exec", "vm1", "--", "rm", "/root/hi.txt"}).ok());

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
  EXPECT_TRUE(vmm({"wait", "vm1", "--agent", "--timeout", "120"}).ok());
  const ToolResult restored_file = vmm({"exec", "vm1", "--", "cat", "/root/hi.txt"});
  EXPECT_EQ(restored_file.out, "kept\n") << restored_file.err;
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
  if (!cgroup.empty()) {
    EXPECT_FALSE(cgroup_exists(cgroup)) << "the VM's cgroup outlived it";
  }
}

// The interfaces whose master is `bridge`.
std::vector<std::string> ports_of(const std::string& bridge) {
  std::vector<std::string> ports;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/class/net/" + bridge + "/brif", ec)) {
    ports.push_back(entry.path().filename().string());
  }
  std::sort(ports.begin(), ports.end());
  return ports;
}

// Two images and two VM instances on a bridge of the test's own (its own name and subnet):
// each VM asks by DHCP and gets the address the manager gave it, `vmm list` shows both, they
// reach the bridge and each other, and delete leaves no TAP on the bridge.
TEST_F(InstanceVmTest, TwoVmsOnABridgeLeaseTheirAddressesAndReachEachOther) {
  const std::string bridge = test_bridge();
  const fs::path tree = make_image_tree(work_);
  ASSERT_FALSE(HasFailure());
  const fs::path second_tree = work_ / "rootfs-second";
  fs::copy(tree, second_tree, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  std::ofstream(second_tree / "etc/image-name") << "second\n";
  ASSERT_NO_FATAL_FAILURE(start_daemon("", {"--bridge", bridge, "--subnet", "10.213.7.1/24"}));
  ASSERT_TRUE(vmm({"image", "import", tree.string(), "--alias", "first"}).ok());
  ASSERT_TRUE(vmm({"image", "import", second_tree.string(), "--alias", "second"}).ok());

  // Both at once, as a user would start two: the launches overlap.
  const auto begin = Clock::now();
  std::vector<Subprocess> launches;
  for (const auto& [image, name] : {std::pair{"first", "net1"}, std::pair{"second", "net2"}}) {
    launches.push_back(Subprocess::spawn(
        {KvmTestEnv::get().vmm_bin, "launch", image, name, "--vm", "--memory", "192MiB"}));
  }
  for (auto& launch : launches) {
    const auto status = launch.wait(deadline_);
    EXPECT_TRUE(status && status->code == 0) << launch.stdout_text() << launch.stderr_text();
  }
  const std::string first = wait_ipv4("net1");
  const std::string second = wait_ipv4("net2");
  std::printf("two VMs launched to both addresses listed: %lld ms\n%s",
              millis(Clock::now() - begin), vmm({"list"}).out.c_str());
  ASSERT_FALSE(first.empty()) << vmm({"list"}).out;
  ASSERT_FALSE(second.empty()) << vmm({"list"}).out;
  EXPECT_NE(first, second);
  EXPECT_EQ(first.rfind("10.213.7.", 0), 0U) << first;
  EXPECT_EQ(second.rfind("10.213.7.", 0), 0U) << second;
  EXPECT_EQ(ports_of(bridge).size(), 2U);

  // Each guest has the address it was listed with, from its own image.
  const ToolResult addr = vmm({"exec", "net1", "--", "ip", "-4", "-o", "addr", "show", "eth0"});
  EXPECT_NE(addr.out.find(first + "/24"), std::string::npos) << addr.out << addr.err;
  EXPECT_EQ(vmm({"exec", "net2", "--", "cat", "/etc/image-name"}).out, "second\n");
  EXPECT_EQ(vmm({"exec", "net1", "--", "test", "-e", "/etc/image-name"}).status.code, 1);
  // The bridge's address (the host) and the other VM answer.
  const ToolResult to_host =
      vmm({"exec", "net1", "--", "ping", "-c", "1", "-W", "10", "10.213.7.1"});
  EXPECT_TRUE(to_host.ok()) << to_host.out << to_host.err;
  const ToolResult to_peer = vmm({"exec", "net1", "--", "ping", "-c", "1", "-W", "10", second});
  EXPECT_TRUE(to_peer.ok()) << to_peer.out << to_peer.err;
  // The instance's name resolves through the bridge's DNS.
  const ToolResult named = vmm({"exec", "net2", "--", "nslookup", "net1", "10.213.7.1"});
  EXPECT_NE(named.out.find(first), std::string::npos) << named.out << named.err;

  for (const char* name : {"net1", "net2"}) {
    const ToolResult deleted = vmm({"delete", "--force", name});
    EXPECT_TRUE(deleted.ok()) << deleted.err;
  }
  // The TAPs went with their VMs.
  std::vector<std::string> left = ports_of(bridge);
  for (int i = 0; i < 50 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left = ports_of(bridge);
  }
  EXPECT_TRUE(left.empty()) << left.front();
}

}  // namespace
}  // namespace vmm::test
