// `vmm run --jail` end to end: the usual boot, block and network checks with vmm confined by its
// own container runtime and each thread under its seccomp filter, and what a vmm taken over by
// the guest could still do, tried from inside it.
//
// Two runs of vmm-jail-probe (vmm with tests/kvm/jail_probe.cpp's probe, built only for the
// tests):
//   confined: --jail --seccomp kill; Debian's kernel boots the busybox test root from a disk
//     (snapshot=on), writes and reads back 64 MiB on a second disk, takes an address on a TAP
//     this test makes (vmmjail0, 192.168.210.1/24), pings the host and sends 64 MiB to a sink
//     here; both sides compare sha256. The probe prints what each forbidden call met; while the
//     guest runs the test reads the jail's cgroup and the jailed process's credentials on the
//     host.
//   jail only: --jail --seccomp off, the probe alone (it ends vmm before the guest starts): what
//     the jail refuses by itself, without the filters.
// The console and vmm's log of each run go to VMM_KVM_LOG_DIR/JailScenario_<run>.log.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host_network_helpers.hpp"
#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {
namespace {

constexpr const char* kMac = "52:54:00:12:35:01";
constexpr uint64_t kScratchDiskBytes = 64ULL << 20;
// --memory 512M plus the jail's allowance for vmm itself (jail/jail.hpp).
constexpr uint64_t kExpectedMemoryMax = (512ULL << 20) + (256ULL << 20);

struct JailResult {
  std::string problem;
  std::string console;
  std::string vmm_log;
  std::optional<ExitStatus> status;
  std::string log_path;
  // confined
  std::string disk_sha256;  // the scratch disk's first blkwrite_mib MiB, read here afterwards
  std::string sink_sha256;
  uint64_t sink_bytes = 0;
  std::string cgroup_memory_max;  // read on the host while the guest ran
  std::string cgroup_pids_max;
  std::string jailed_uid_line;  // the jailed vmm's Uid: line, from the host's /proc
  bool cgroup_removed = false;
  bool tap_removed = false;

  [[nodiscard]] std::optional<std::string> mark(const std::string& key) const {
    return marker(console, key);
  }
  [[nodiscard]] std::optional<std::string> probe(const std::string& key) const {
    const std::regex re("VMMPROBE: " + std::regex_replace(key, std::regex(R"([.])"), R"(\.)") +
                        "=([^\r\n]*)");
    std::smatch m;
    if (!std::regex_search(vmm_log, m, re)) return std::nullopt;
    return m[1].str();
  }
};

std::string probe_bin() {
#ifdef VMM_JAIL_PROBE_BIN
  return env_or("VMM_JAIL_PROBE_BIN", VMM_JAIL_PROBE_BIN);
#else
  return env_or("VMM_JAIL_PROBE_BIN", "");
#endif
}

std::string first_line(const fs::path& file) {
  std::string line;
  std::getline(std::ifstream(file), line);
  return line;
}

// The jail's cgroup directory on the host, for the supervisor `pid` (cgroup v2 or v1 memory).
std::optional<fs::path> jail_cgroup(pid_t pid, const std::string& controller) {
  for (const fs::path& base :
       {fs::path("/sys/fs/cgroup"), fs::path("/sys/fs/cgroup") / controller}) {
    const fs::path dir = base / "vmm.jail" / std::to_string(pid);
    if (fs::exists(dir)) return dir;
  }
  return std::nullopt;
}

class JailScenario {
 public:
  explicit JailScenario(bool confined) : confined_(confined) {}

  JailResult run() {
    JailResult r;
    try {
      if (prepare(r)) {
        if (confined_) {
          run_confined(r);
        } else {
          run_jail_only(r);
        }
      }
    } catch (const std::exception& e) {
      r.problem = std::string("scenario aborted: ") + e.what();
    }
    if (vm_) {
      vm_->kill();
      r.console = vm_->stdout_text();
      r.vmm_log = vm_->stderr_text();
    }
    ::unsetenv("VMM_JAIL_PROBE");
    ::unsetenv("VMM_JAIL_PROBE_CONNECT");
    std::error_code ec;
    fs::remove_all(scratch_, ec);
    save_log(r);
    return r;
  }

 private:
  bool prepare(JailResult& r) {
    r.problem = kvm_environment_problem();
    if (!r.problem.empty()) return false;
    if (::access(probe_bin().c_str(), X_OK) != 0) {
      r.problem = "vmm-jail-probe not executable: '" + probe_bin() + "' (set VMM_JAIL_PROBE_BIN)";
      return false;
    }
    const std::string cache = cache_dir();
    initrd_ = env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz");
    rootfs_ = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
    for (const auto& path : {initrd_, rootfs_}) {
      if (::access(path.c_str(), R_OK) != 0) {
        r.problem = "missing " + path + " (the kvm_assets test builds it)";
        return false;
      }
    }
    scratch_ = fs::temp_directory_path() / ("vmm-jail-test-" + std::to_string(::getpid()));
    fs::remove_all(scratch_);
    fs::create_directories(scratch_);
    return true;
  }

  std::vector<std::string> argv(const std::string& seccomp, const std::string& actions) const {
    const KvmTestEnv& env = KvmTestEnv::get();
    std::string cmdline =
        "console=ttyS0 reboot=k panic=-1 quiet pci=noearly root=/dev/vda rootfstype=ext4 rw "
        "rootwait rd.emergency=reboot vmmtest=" +
        actions;
    if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
    return {probe_bin(),
            "run",
            "--jail",
            "--seccomp",
            seccomp,
            "--kernel",
            env.kernel,
            "--initrd",
            initrd_,
            "--cmdline",
            cmdline,
            "--cpus",
            "2",
            "--memory",
            "512M",
            "--disk",
            rootfs_ + ",snapshot=on"};
  }

  void spawn(const std::vector<std::string>& args) {
    for (const auto& a : args) {
      command_line_ += (command_line_.empty() ? "" : " ") +
                       (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
    }
    vm_.emplace(Subprocess::spawn(args));
  }

  void run_confined(JailResult& r) {
    const auto deadline = Clock::now() + 2 * KvmTestEnv::get().test_limit;
    const fs::path disk = scratch_ / "scratch.img";
    write_random_file(disk, kScratchDiskBytes, static_cast<uint64_t>(::getpid()));
    {
      ScopedTap tap("vmmjail0", "192.168.210.1/24");
      const fs::path sink_file = scratch_ / "from-guest.data";
      TcpSink sink("192.168.210.1", sink_file);
      const std::string actions = std::string("info,blkwrite:vdb,ipaddr:") + kMac +
                                  "=192.168.210.2/24,ping:192.168.210.1,tcpsend:192.168.210.1:" +
                                  std::to_string(sink.port()) + ",poweroff";
      auto args = argv("kill", actions);
      args.insert(args.end(), {"--disk", disk.string(), "--net",
                               std::string("tap=vmmjail0,mac=") + kMac, "--log-level", "info"});
      ::setenv("VMM_JAIL_PROBE", "1", 1);
      ::setenv("VMM_JAIL_PROBE_CONNECT", ("192.168.210.1:" + std::to_string(sink.port())).c_str(),
               1);
      spawn(args);
      // While the guest runs: the jail's cgroup and the jailed vmm as the host sees them.
      if (vm_->wait_for_stdout("VMMTEST: blkwrite_mib=", deadline)) {
        if (const auto dir = jail_cgroup(vm_->pid(), "memory")) {
          r.cgroup_memory_max = first_line(*dir / "memory.max");
          if (r.cgroup_memory_max.empty())
            r.cgroup_memory_max = first_line(*dir / "memory.limit_in_bytes");
          r.cgroup_pids_max = first_line(*dir / "pids.max");
          const std::string jailed = first_line(*dir / "cgroup.procs");
          std::ifstream status("/proc/" + jailed + "/status");
          for (std::string line; std::getline(status, line);) {
            if (line.rfind("Uid:", 0) == 0) r.jailed_uid_line = line;
          }
        }
      }
      if (!vm_->wait_for_stdout("VMMTEST: actions finished", deadline)) {
        r.problem = "the guest never reported 'VMMTEST: actions finished'";
      }
      r.status = vm_->wait(std::min(deadline, Clock::now() + 60s));
      const auto sink_deadline = Clock::now() + 10s;
      while (!sink.done() && Clock::now() < sink_deadline) std::this_thread::sleep_for(50ms);
      sink.stop();
      r.sink_bytes = sink.bytes();
      if (fs::exists(sink_file)) r.sink_sha256 = sha256_file(sink_file);
    }
    r.tap_removed = !interface_exists("vmmjail0");
    r.cgroup_removed = !jail_cgroup(vm_->pid(), "memory").has_value();
    const std::string mib = marker(vm_->stdout_text(), "blkwrite_mib").value_or("0");
    const ToolResult head = run_tool(
        {"sh", "-c", "head -c $((" + mib + " * 1048576)) '" + disk.string() + "' | sha256sum"},
        Clock::now() + 60s);
    if (head.ok() && head.out.size() >= 64) r.disk_sha256 = head.out.substr(0, 64);
  }

  void run_jail_only(JailResult& r) {
    const auto deadline = Clock::now() + KvmTestEnv::get().test_limit;
    ::setenv("VMM_JAIL_PROBE", "exit", 1);
    ::setenv("VMM_JAIL_PROBE_CONNECT", "127.0.0.1:22", 1);
    spawn(argv("off", "poweroff"));
    r.status = vm_->wait(deadline);
    if (!r.status) r.problem = "vmm did not end after its probe";
  }

  void save_log(JailResult& r) const {
    const fs::path log_dir = KvmTestEnv::get().log_dir;
    std::error_code ec;
    fs::create_directories(log_dir, ec);
    const fs::path path =
        log_dir / (std::string("JailScenario_") + (confined_ ? "confined" : "jail-only") + ".log");
    std::ofstream(path) << "$ " << command_line_ << "\n--- console (stdout) ---\n"
                        << r.console << "\n--- vmm log (stderr) ---\n"
                        << r.vmm_log << "\n";
    r.log_path = path.string();
    if (!r.problem.empty()) {
      std::fprintf(stderr, "--- jail scenario failed: %s\n--- console ---\n%s\n--- vmm ---\n%s\n",
                   r.problem.c_str(), r.console.c_str(), r.vmm_log.c_str());
    }
  }

  bool confined_;
  fs::path scratch_;
  std::string initrd_;
  std::string rootfs_;
  std::optional<Subprocess> vm_;
  std::string command_line_;
};

const JailResult& scenario(bool confined) {
  static std::unique_ptr<JailResult> results[2];
  auto& slot = results[confined ? 0 : 1];
  if (!slot) slot = std::make_unique<JailResult>(JailScenario(confined).run());
  return *slot;
}

// The tests of one scenario's run (confined or jail only), which runs once for all of them.
template <bool kConfined>
class JailScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!r().problem.empty()) GTEST_FAIL() << r().problem << where();
  }
  static const JailResult& r() { return scenario(kConfined); }
  static std::string where() { return " (log: " + r().log_path + ")"; }
};
using JailedVm = JailScenarioTest<true>;
using JailOnly = JailScenarioTest<false>;

const char* const kProbes[] = {"open_host_file", "write_root",  "ptrace",
                               "mount",          "raw_socket",  "connect_host",
                               "execve",         "load_module", "setuid_root"};

TEST_F(JailedVm, GuestBootsFromItsDiskAndPowersOffWithStatusZero) {
  ASSERT_TRUE(r().status.has_value()) << where();
  EXPECT_TRUE(r().status->exited && r().status->code == 0) << r().status->describe() << where();
  EXPECT_NE(r().vmm_log.find("jail: locked down as uid 65534 gid 65534"), std::string::npos)
      << where();
}

TEST_F(JailedVm, BlockWriteAndReadBackMatchTheHostsChecksum) {
  const auto written = r().mark("blkwrite_written_sha256");
  ASSERT_TRUE(written.has_value()) << where();
  EXPECT_EQ(r().mark("blkwrite_mib"), "64") << where();
  EXPECT_EQ(r().mark("blkwrite_readback_sha256"), written) << where();
  EXPECT_EQ(r().disk_sha256, *written) << where();
}

TEST_F(JailedVm, GuestPingsTheHostOverTheTapAndSends64MiBIntact) {
  EXPECT_EQ(r().mark("ping_192.168.210.1"), "0%") << where();
  EXPECT_EQ(r().mark("tcpsend"), "ok") << where();
  EXPECT_EQ(r().sink_bytes, 64ULL << 20) << where();
  EXPECT_EQ(r().mark("tcpsend_sha256"), r().sink_sha256) << where();
  EXPECT_TRUE(r().tap_removed) << "vmmjail0 still exists" << where();
}

TEST_F(JailedVm, EveryForbiddenCallFailsInsideTheConfinedVmm) {
  for (const char* name : kProbes) {
    const auto outcome = r().probe(name);
    ASSERT_TRUE(outcome.has_value()) << "no probe result for " << name << where();
    EXPECT_NE(*outcome, "allowed") << name << where();
    EXPECT_EQ(outcome->find("cannot"), std::string::npos) << name << ": " << *outcome << where();
  }
  // The device loop's filter stops these before the kernel is even asked.
  for (const char* name : {"ptrace", "mount", "execve", "load_module", "setuid_root"}) {
    EXPECT_EQ(r().probe(name), "seccomp") << name << where();
  }
}

TEST_F(JailedVm, RunsAsTheUnprivilegedUserWithNoCapabilities) {
  EXPECT_EQ(r().probe("status.Uid"), "65534 65534 65534 65534") << where();
  EXPECT_EQ(r().probe("status.Gid"), "65534 65534 65534 65534") << where();
  EXPECT_EQ(r().probe("status.Groups"), "") << where();
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(r().probe(std::string("status.") + set), "0000000000000000") << set << where();
  }
  EXPECT_EQ(r().probe("status.NoNewPrivs"), "1") << where();
  // And as the host sees it.
  EXPECT_NE(r().jailed_uid_line.find("65534\t65534\t65534\t65534"), std::string::npos)
      << "'" << r().jailed_uid_line << "'" << where();
}

TEST_F(JailedVm, HasItsOwnNamespacesAndBoundedResources) {
  EXPECT_EQ(r().probe("hostname"), "vmm-jail") << where();
  EXPECT_EQ(r().probe("netdevs"), "lo") << "the TAP stays in the host's namespace" << where();
  EXPECT_EQ(r().probe("nofile"), "4096") << where();
  EXPECT_NE(r().probe("cgroup").value_or("").find("/vmm.jail/"), std::string::npos) << where();
  EXPECT_EQ(r().cgroup_memory_max, std::to_string(kExpectedMemoryMax)) << where();
  EXPECT_EQ(r().cgroup_pids_max, "512") << where();
  EXPECT_TRUE(r().cgroup_removed) << "the jail's cgroup is left behind" << where();
}

TEST_F(JailOnly, WithoutFiltersTheJailItselfRefusesEachCall) {
  ASSERT_TRUE(r().status.has_value()) << where();
  EXPECT_TRUE(r().status->exited && r().status->code == 0) << r().status->describe() << where();
  EXPECT_EQ(r().probe("open_host_file"), "ENOENT")
      << "the host's files are not in the jail" << where();
  EXPECT_EQ(r().probe("write_root"), "EROFS") << where();
  EXPECT_EQ(r().probe("ptrace"), "EPERM") << where();
  EXPECT_EQ(r().probe("mount"), "EPERM") << where();
  EXPECT_EQ(r().probe("raw_socket"), "EPERM") << where();
  EXPECT_EQ(r().probe("connect_host"), "ENETUNREACH")
      << "only a loopback, and it is down" << where();
  EXPECT_EQ(r().probe("execve"), "ENOENT") << where();
  EXPECT_EQ(r().probe("load_module"), "EPERM") << where();
  EXPECT_EQ(r().probe("setuid_root"), "EPERM") << where();
  EXPECT_EQ(r().probe("status.CapEff"), "0000000000000000") << where();
}

// Bad combinations are refused before anything is made (no KVM needed).
class JailCli : public ::testing::Test {};

TEST_F(JailCli, UserNetworkingAndRootAsTheJailUserAreRefusedWithStatusTwo) {
  const KvmTestEnv& env = KvmTestEnv::get();
  if (env.vmm_bin.empty()) GTEST_FAIL() << "needs VMM_BIN: " << env.problem;
  const auto deadline = Clock::now() + 60s;
  const ToolResult user =
      run_tool({env.vmm_bin, "run", "--jail", "--net", "user", "--kernel", env.kernel}, deadline);
  EXPECT_EQ(user.status.code, 2) << user.err;
  EXPECT_NE(user.err.find("user-mode networking"), std::string::npos) << user.err;
  const ToolResult root = run_tool(
      {env.vmm_bin, "run", "--jail", "--jail-user", "0", "--kernel", env.kernel}, deadline);
  EXPECT_EQ(root.status.code, 2) << root.err;
  EXPECT_NE(root.err.find("jail-user"), std::string::npos) << root.err;
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/vmm.jail/" + std::to_string(::getpid())));
}

}  // namespace
}  // namespace vmm::test
