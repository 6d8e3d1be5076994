// `vmm bench` where VMs run: vmm on the minimal and the stock kernel beside QEMU -M microvm and
// -M pc on the same kernels and initramfs, and the containers of this place, all measured; the
// outputs agree and the chart renders (tests/bench/bench_output_check.hpp).
#include <unistd.h>

#include <filesystem>

#include "bench_output_check.hpp"
#include "kvm_test_support.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;

class VmmBenchTest : public KvmTest {
 protected:
  void SetUp() override {
    KvmTest::SetUp();
    const char* scratch = std::getenv("VMM_TEST_SCRATCH_DIR");
    dir_ = fs::path(scratch != nullptr ? scratch : "/tmp") /
           ("bench-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    minimal_ = env_or("VMM_TEST_MINIMAL_KERNEL", cache_dir() + "/minimal-kernel/bzImage");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::vector<std::string> bench(const std::string& what) const {
    const auto& env = KvmTestEnv::get();
    return {
        env.vmm_bin,        "bench",  what,       "--kernel", env.kernel, "--initrd",   env.initrd,
        "--minimal-kernel", minimal_, "--format", "json",     "--out",    dir_.string()};
  }
  fs::path dir_;
  std::string minimal_;
};

// The container peers (runc, crun, podman) are measured on the host by
// tests/bench/bench_command_test.cpp; here the VMs and their QEMU peers, and vmm's containers
// beside the floor.
TEST_F(VmmBenchTest, StartupMeasuresVmsBesideQemuAndTheOutputsAgree) {
  const std::vector<std::string> listed = {"vmm-vm-minimal",
                                           "vmm-vm-minimal-seccomp-off",
                                           "vmm-vm-minimal-jail",
                                           "qemu-microvm-minimal",
                                           "qemu-pc-minimal",
                                           "vmm-vm-stock",
                                           "qemu-microvm-stock",
                                           "qemu-pc-stock",
                                           "vmm-container-run",
                                           "vmm-oci-run",
                                           "floor"};
  std::string names;
  for (const auto& n : listed) names += (names.empty() ? "" : ",") + n;
  auto argv = bench("startup");
  argv.insert(argv.end(),
              {"--runs", "2", "--timeout", "120", "--baseline", "floor", "--scenarios", names});
  const auto r = run_tool(argv, Clock::now() + std::chrono::minutes(30));
  ASSERT_TRUE(r.ok()) << r.status.describe() << "\n" << r.err << r.out;
  bench::check_startup_outputs(
      dir_, 2,
      {"vmm-vm-minimal", "vmm-vm-minimal-seccomp-off", "vmm-vm-minimal-jail", "vmm-vm-stock",
       "qemu-microvm-minimal", "qemu-microvm-stock", "qemu-pc-stock", "vmm-container-run",
       "vmm-oci-run", "floor"},
      listed);
  // The ratio to the peer on the same kernel is there for vmm's VMs, and the unconfined VM's
  // peer is the confined one: that ratio is what the seccomp filters cost at start-up.
  const auto j = nlohmann::json::parse(r.out);
  bool unconfined_seen = false;
  bool jailed_seen = false;
  for (const auto& s : j["scenarios"]) {
    if (s["name"] == "vmm-vm-minimal" || s["name"] == "vmm-vm-stock") {
      EXPECT_TRUE(s["ratio_to_peer"]["ready_ms"].is_number()) << s.dump();
    }
    if (s["name"] == "vmm-vm-minimal-jail") {
      jailed_seen = true;
      EXPECT_EQ(s["peer"], "vmm-vm-minimal") << s.dump();
      EXPECT_TRUE(s["ratio_to_peer"]["exit_ms"].is_number()) << s.dump();
    }
    if (s["name"] == "vmm-vm-minimal-seccomp-off") {
      unconfined_seen = true;
      EXPECT_EQ(s["peer"], "vmm-vm-minimal") << s.dump();
      EXPECT_TRUE(s["ratio_to_peer"]["ready_ms"].is_number()) << s.dump();
    }
  }
  EXPECT_TRUE(unconfined_seen);
  EXPECT_TRUE(jailed_seen);
}

TEST_F(VmmBenchTest, DensityOfVmsReportsGuestAndVmmMemory) {
  auto argv = bench("density");
  argv.insert(argv.end(), {"--count", "2", "--kind", "vm", "--timeout", "120"});
  const auto r = run_tool(argv, Clock::now() + std::chrono::minutes(10));
  ASSERT_TRUE(r.ok()) << r.status.describe() << "\n" << r.err << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["scenarios"].size(), 1U);
  const auto& s = j["scenarios"][0];
  ASSERT_EQ(s["status"], "measured") << s.dump();
  ASSERT_EQ(s["samples"].size(), 2U);
  for (const auto& sample : s["samples"]) {
    EXPECT_GT(sample["guest_touched_mib"].get<double>(), 1) << sample.dump();
    EXPECT_GT(sample["vmm_overhead_mib"].get<double>(), 0) << sample.dump();
    EXPECT_GE(sample["pss_mib"].get<double>(), sample["vmm_overhead_mib"].get<double>());
  }
  EXPECT_EQ(bench::run_command("rsvg-convert '" + (dir_ / "density.svg").string() + "' >/dev/null")
                .status,
            0);
}

// `vmm bench blk` and `vmm bench net`: vmm and QEMU boot the same root file system, their
// guests measure the data disk and the TAP, and the report holds every figure of both and the
// ratio of each of vmm's figures to QEMU's.
class VmmIoBenchTest : public VmmBenchTest {
 protected:
  std::vector<std::string> io_bench(const std::string& what) const {
    const auto& env = KvmTestEnv::get();
    const std::string cache = cache_dir();
    return {env.vmm_bin,
            "bench",
            what,
            "--kernel",
            env.kernel,
            "--initrd",
            env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz"),
            "--rootfs",
            env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4"),
            "--runs",
            "1",
            "--format",
            "json",
            "--strict",
            "--out",
            dir_.string()};
  }
  // Every metric of `scenario` measured and above zero; with a peer, a ratio for each.
  static void expect_measured(const nlohmann::json& report, const std::string& scenario,
                              bool with_peer) {
    for (const auto& s : report["scenarios"]) {
      if (s["name"] != scenario) continue;
      ASSERT_EQ(s["status"], "measured") << s.dump();
      ASSERT_EQ(s["samples"].size(), 1U) << s.dump();
      for (const auto& m : report["metrics"]) {
        const std::string name = m["name"];
        ASSERT_TRUE(s["samples"][0][name].is_number()) << name << ": " << s.dump();
        EXPECT_GT(s["samples"][0][name].get<double>(), 0) << name << ": " << s.dump();
        if (with_peer) {
          EXPECT_TRUE(s["ratio_to_peer"][name].is_number()) << name << ": " << s.dump();
        }
      }
      return;
    }
    ADD_FAILURE() << "no scenario " << scenario << " in " << report.dump();
  }
};

TEST_F(VmmIoBenchTest, BlockMeasuresVmmBesideQemuWithTwoQueues) {
  auto argv = io_bench("blk");
  argv.insert(argv.end(), {"--seconds", "1", "--disk-mib", "32", "--queues", "2"});
  const auto r = run_tool(argv, Clock::now() + std::chrono::minutes(15));
  ASSERT_TRUE(r.ok()) << r.status.describe() << "\n" << r.err << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["benchmark"], "blk");
  EXPECT_NE(j["host"]["settings"].get<std::string>().find("queues=2"), std::string::npos);
  expect_measured(j, "vmm-blk", true);
  expect_measured(j, "qemu-blk", false);
  for (const char* file : {"blk.json", "blk.csv", "blk.svg"}) {
    EXPECT_TRUE(fs::exists(dir_ / file)) << file;
  }
  EXPECT_EQ(
      bench::run_command("rsvg-convert '" + (dir_ / "blk.svg").string() + "' >/dev/null").status,
      0);
}

TEST_F(VmmIoBenchTest, NetworkMeasuresVmmBesideQemuWithAndWithoutVhost) {
  auto argv = io_bench("net");
  argv.insert(argv.end(),
              {"--seconds", "2", "--scenarios", "vmm-net,qemu-net,vmm-net-vhost,vmm-net-jail"});
  const auto r = run_tool(argv, Clock::now() + std::chrono::minutes(20));
  ASSERT_TRUE(r.ok()) << r.status.describe() << "\n" << r.err << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["benchmark"], "net");
  ASSERT_EQ(j["scenarios"].size(), 4U) << j.dump();
  expect_measured(j, "vmm-net", true);
  expect_measured(j, "qemu-net", false);
  // vhost-net in use (the run fails when vmm falls back to user space); its QEMU peer was not
  // asked for, so no ratio.
  expect_measured(j, "vmm-net-vhost", false);
  expect_measured(j, "vmm-net-jail", true);
  // The benchmark's TAP is gone with it.
  EXPECT_EQ(bench::run_command("ip -o link show | grep -q vmmbench").status, 1);
}

}  // namespace
}  // namespace vmm::test
