// `vmm bench` on this host, as a user runs it: containers are measured beside runc and the
// floor; VMs are measured or skipped with the reason (the KVM suite measures them in the
// nested sandbox: tests/kvm/vmm_bench_test.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "bench_output_check.hpp"

namespace fs = std::filesystem;
using vmm::test::bench::run_command;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = "/tmp/vmm-bench-test-XXXXXX";
    path = ::mkdtemp(pattern.data());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string vmm() { return VMM_BIN; }

TEST(BenchCommand, StartupOutputsAgreeAndTheChartRenders) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: containers need root";
  TempDir out;
  const auto r = run_command(vmm() + " bench startup --runs 2 --format json --out '" +
                             out.path.string() + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  // stdout's JSON is the file's.
  EXPECT_EQ(nlohmann::json::parse(r.output),
            nlohmann::json::parse(vmm::test::bench::read_text(out.path / "startup.json")));
  vmm::test::bench::check_startup_outputs(
      out.path, 2, {"vmm-container-run", "vmm-oci-run", "runc-run", "floor", "podman-vmm"});
  // A saved run gives the same CSV back.
  const auto again = run_command(vmm() + " bench report --format csv '" +
                                 (out.path / "startup.json").string() + "'");
  EXPECT_EQ(again.status, 0);
  EXPECT_EQ(again.output, vmm::test::bench::read_text(out.path / "startup.csv"));
  // With no usable KVM, the VM scenarios say why.
  const auto j = nlohmann::json::parse(r.output);
  for (const auto& s : j["scenarios"]) {
    if (s["kind"] == "vm" && s["status"] == "skipped") {
      EXPECT_NE(s["reason"].get<std::string>().find("KVM"), std::string::npos) << s.dump();
    }
  }
}

TEST(BenchCommand, TableNamesEveryScenario) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: containers need root";
  const auto r = run_command(vmm() + " bench startup --runs 1 --scenarios floor,vmm-container-run");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("floor "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("vmm-container-run "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\nrunc-run "), std::string::npos) << r.output;
}

TEST(BenchCommand, DensityOfContainersReportsMemoryPerInstance) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: containers need root";
  TempDir out;
  const auto r = run_command(vmm() +
                             " bench density --count 3 --kind container --format json "
                             "--out '" +
                             out.path.string() + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["scenarios"].size(), 1U);
  const auto& s = j["scenarios"][0];
  EXPECT_EQ(s["name"], "vmm-container");
  ASSERT_EQ(s["status"], "measured") << s.dump();
  ASSERT_EQ(s["samples"].size(), 3U);
  for (const auto& sample : s["samples"]) {
    EXPECT_GT(sample["pss_mib"].get<double>(), 0);
    EXPECT_GT(sample["cgroup_mib"].get<double>(), 0);
    EXPECT_LE(sample["ready_ms"].get<double>(), s["figures"]["all_ready_ms"].get<double>());
  }
  EXPECT_EQ(s["figures"]["instances"], 3);
  const auto csv = vmm::test::bench::read_text(out.path / "density.csv");
  EXPECT_NE(csv.find("vmm-container,container,measured"), std::string::npos) << csv;
  EXPECT_EQ(
      run_command("rsvg-convert '" + (out.path / "density.svg").string() + "' >/dev/null").status,
      0);
}

TEST(BenchCommand, UsageErrorsExitTwoWithOneLine) {
  auto r = run_command(vmm() + " bench startup --scenarios no-such 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("no scenario named 'no-such'"), std::string::npos) << r.output;
  r = run_command(vmm() + " bench density --kind toaster 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  r = run_command(vmm() + " bench startup --rootfs /nonexistent-root 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent-root"), std::string::npos) << r.output;
  r = run_command(vmm() + " bench net --scenarios no-such 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no scenario named 'no-such'"), std::string::npos) << r.output;
  r = run_command(vmm() + " bench blk --cache sometimes 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--cache"), std::string::npos) << r.output;
  r = run_command(vmm() + " bench blk --queues 17 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
}

// Without a guest kernel nothing can boot: every scenario of the I/O benchmarks is listed,
// skipped with that reason, and the report still says what it would compare.
TEST(BenchCommand, IoBenchmarksSayWhyTheyCannotRun) {
  for (const std::string what : {"net", "blk"}) {
    TempDir out;
    const auto r = run_command(vmm() + " bench " + what +
                               " --kernel /nonexistent-kernel --format json --out " +
                               out.path.string() + " 2>/dev/null");
    ASSERT_EQ(r.status, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["benchmark"], what);
    EXPECT_EQ(j["baseline"], "qemu-" + what);
    ASSERT_EQ(j["scenarios"].size(), what == "net" ? 5U : 2U) << j.dump();
    for (const auto& s : j["scenarios"]) {
      EXPECT_EQ(s["status"], "skipped") << s.dump();
      EXPECT_NE(s["reason"].get<std::string>().find("/nonexistent-kernel"), std::string::npos)
          << s.dump();
    }
    for (const auto& m : j["metrics"]) {
      EXPECT_TRUE(m["unit"] == "MB/s" || m["unit"] == "IOPS") << m.dump();
    }
    // The table reads as rates, and the chart renders.
    const auto table =
        run_command(vmm() + " bench report " + (out.path / (what + ".json")).string());
    EXPECT_EQ(table.status, 0) << table.output;
    EXPECT_NE(table.output.find("higher is better"), std::string::npos) << table.output;
    EXPECT_EQ(run_command("rsvg-convert '" + (out.path / (what + ".svg")).string() + "' >/dev/null")
                  .status,
              0);
  }
}

}  // namespace
