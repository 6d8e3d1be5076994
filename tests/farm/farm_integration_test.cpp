// `vmm farm run` as a user runs it, with container jobs (they run natively on this host; the
// KVM suite runs VM jobs in the nested sandbox): passes, a failing exit status, a timeout, a
// KTAP subtest failing, a flaky job retried, two jobs at a time, a log per job, and JUnit
// (validated against tests/farm/junit.xsd), TAP and JSON with the same exact counts.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct Result {
  int status = -1;
  std::string output;
};

Result run(const std::string& command) {
  Result r;
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, p) != nullptr) r.output += buffer;
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

class FarmRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    std::string pattern = "/tmp/vmm-farm-test-XXXXXX";
    dir_ = ::mkdtemp(pattern.data());
    const auto built = run(std::string(VMM_SOURCE_DIR) + "/firmware/build-busybox-rootfs.sh '" +
                           (dir_ / "root").string() + "'");
    ASSERT_EQ(built.status, 0) << built.output;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: containers need root";
  }

  static fs::path dir_;
};

fs::path FarmRun::dir_;

// rootfs is relative: jobs run in the farm file's directory.
constexpr const char* kFarm = R"(
[defaults]
kind = "container"
rootfs = "root"
timeout = 30

# First: with its retry, the longest chain.
[[job]]
name = "hang"
command = "sleep 60"
timeout = 1

[[job]]
name = "pass-a"
command = "sleep 3; echo output-of-a"

[[job]]
name = "pass-b"
command = "sleep 3; echo output-of-b"

[[job]]
name = "pass-c"
command = ["/bin/sh", "-c", "sleep 3; echo output-of-c"]

[[job]]
name = "exit-3"
command = "sleep 0.5; exit 3"

[[job]]
name = "expected-5"
command = "exit 5"
expect_exit = 5

[[job]]
name = "kunit"
ktap = true
command = """printf 'boot noise\nKTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: suite\n    1..3\n    ok 1 first\n    not ok 2 second\n    ok 3 third # SKIP no hardware\nnot ok 1 suite\n'"""

[[job]]
name = "flaky"
command = "if [ -e /root/flaky-marker ]; then echo second-try; exit 0; fi; touch /root/flaky-marker; exit 1"
)";

TEST_F(FarmRun, ContainerJobsReportedAlikeInJunitTapAndJson) {
  const fs::path farm = dir_ / "farm.toml";
  std::ofstream(farm) << kFarm;
  const fs::path logs = dir_ / "logs";
  const auto r = run(std::string(VMM_BIN) + " farm run '" + farm.string() + "' --jobs 2 " +
                     "--retries 1 --logs '" + logs.string() + "' --junit '" +
                     (dir_ / "out.xml").string() + "' --tap '" + (dir_ / "out.tap").string() +
                     "' --json '" + (dir_ / "out.json").string() + "'");
  // Jobs failed: exit status 1.
  ASSERT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("8 jobs: 5 passed (1 flaky), 3 failed"), std::string::npos) << r.output;

  // JUnit: valid against the schema, with exact counts. 8 jobs plus kunit's 3 KTAP cases = 11
  // test cases; failures: exit-3, kunit and kunit's "second"; error: hang; skipped: "third".
  const auto valid = run("xmllint --noout --schema '" VMM_FARM_JUNIT_XSD "' '" +
                         (dir_ / "out.xml").string() + "'");
  EXPECT_EQ(valid.status, 0) << valid.output;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir_ / "out.xml").c_str()));
  const auto suites = doc.child("testsuites");
  EXPECT_EQ(suites.attribute("tests").as_int(), 11);
  EXPECT_EQ(suites.attribute("failures").as_int(), 3);
  EXPECT_EQ(suites.attribute("errors").as_int(), 1);
  EXPECT_EQ(doc.select_nodes("//testcase").size(), 11U);
  EXPECT_EQ(doc.select_nodes("//failure").size(), 3U);
  EXPECT_EQ(doc.select_nodes("//error").size(), 1U);
  EXPECT_EQ(doc.select_nodes("//skipped").size(), 1U);
  EXPECT_EQ(doc.select_nodes("//testcase[@classname='kunit.ktap' and @name='suite.second']/failure")
                .size(),
            1U);
  EXPECT_EQ(doc.select_nodes("//testsuite[@name='hang']/testcase/error[@type='timeout']").size(),
            1U);
  const std::string out_a =
      doc.select_node("//testsuite[@name='pass-a']/testcase/system-out").node().child_value();
  EXPECT_NE(out_a.find("output-of-a"), std::string::npos) << out_a;

  // TAP: the same 11 cases.
  const auto tap = read_text(dir_ / "out.tap");
  EXPECT_EQ(tap.rfind("TAP version 13\n1..11\n", 0), 0U) << tap;
  EXPECT_EQ(count_lines_starting(tap, "not ok "), 4U) << tap;
  EXPECT_EQ(count_lines_starting(tap, "ok "), 7U) << tap;
  EXPECT_NE(tap.find("# SKIP no hardware"), std::string::npos) << tap;

  // JSON: the same counts, and each job's verdict.
  const auto j = nlohmann::json::parse(read_text(dir_ / "out.json"));
  EXPECT_EQ(j["totals"]["tests"], 11);
  EXPECT_EQ(j["totals"]["failures"], 3);
  EXPECT_EQ(j["totals"]["errors"], 1);
  EXPECT_EQ(j["totals"]["skipped"], 1);
  EXPECT_EQ(j["jobs_passed"], 5);
  EXPECT_EQ(j["jobs_flaky"], 1);
  EXPECT_EQ(j["jobs_failed"], 3);
  std::map<std::string, nlohmann::json> jobs;
  double serial = 0;
  for (const auto& job : j["jobs"]) {
    jobs[job["name"]] = job;
    serial += job["total_seconds"].get<double>();
  }
  EXPECT_EQ(jobs["pass-a"]["outcome"], "passed");
  EXPECT_EQ(jobs["expected-5"]["outcome"], "passed");
  EXPECT_EQ(jobs["expected-5"]["exit_status"], 5);
  EXPECT_EQ(jobs["exit-3"]["outcome"], "failed");
  EXPECT_EQ(jobs["exit-3"]["exit_status"], 3);
  EXPECT_EQ(jobs["exit-3"]["attempts"], 2);  // retried once, failed again
  EXPECT_EQ(jobs["exit-3"]["reason"], "exit status 3, expected 0");
  EXPECT_EQ(jobs["hang"]["outcome"], "timed-out");
  EXPECT_EQ(jobs["kunit"]["outcome"], "failed");
  EXPECT_EQ(jobs["kunit"]["reason"], "1 of 3 KTAP subtests failed");
  EXPECT_EQ(jobs["kunit"]["ktap"]["passed"], 1);
  EXPECT_EQ(jobs["flaky"]["outcome"], "passed-flaky");
  EXPECT_EQ(jobs["flaky"]["attempts"], 2);

  // Two at a time: well below the serial sum, and never more than two at once.
  const double wall = j["wall_seconds"].get<double>();
  EXPECT_LT(wall, 0.8 * serial) << "wall " << wall << " s, serial " << serial << " s";
  EXPECT_GE(wall, 0.95 * serial / 2) << "wall " << wall << " s, serial " << serial << " s";

  // A log per job, holding its console; a retried job's holds both attempts.
  for (const auto& [name, job] : jobs) {
    EXPECT_TRUE(fs::exists(logs / (name + ".log"))) << name;
    EXPECT_EQ(job["log"], (logs / (name + ".log")).string());
  }
  EXPECT_NE(read_text(logs / "pass-b.log").find("output-of-b"), std::string::npos);
  const auto flaky_log = read_text(logs / "flaky.log");
  EXPECT_NE(flaky_log.find("=== vmm farm: attempt 2 of 2 ==="), std::string::npos) << flaky_log;
  EXPECT_NE(flaky_log.find("second-try"), std::string::npos) << flaky_log;
}

TEST_F(FarmRun, FilterSelectsJobsAndUsageErrorsExitTwo) {
  const fs::path farm = dir_ / "small.toml";
  std::ofstream(farm) << "[defaults]\nkind = 'container'\nrootfs = 'root'\n"
                         "[[job]]\nname = 'one'\ncommand = 'true'\n"
                         "[[job]]\nname = 'two'\ncommand = 'exit 1'\n";
  auto r = run(std::string(VMM_BIN) + " farm run '" + farm.string() + "' --filter 'o*' --logs '" +
               (dir_ / "small-logs").string() + "'");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("1 jobs: 1 passed"), std::string::npos) << r.output;
  r = run(std::string(VMM_BIN) + " farm run '" + farm.string() + "' --filter 'nothing*'");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("vmm farm: --filter nothing*: no job matches"), std::string::npos)
      << r.output;

  const fs::path bad = dir_ / "bad.toml";
  std::ofstream(bad) << "[[job]]\nname = 'x'\nkind = 'container'\nrootfs = 'root'\n"
                        "command = 'true'\ncpus = 'many'\n";
  r = run(std::string(VMM_BIN) + " farm run '" + bad.string() + "'");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(r.output,
            "vmm farm: " + bad.string() + ": job 'x': cpus: expected an integer from 1 to 254\n");
}

TEST_F(FarmRun, InterruptStopsTheJobsAndStillReports) {
  const fs::path farm = dir_ / "long.toml";
  std::ofstream(farm) << "[defaults]\nkind = 'container'\nrootfs = 'root'\n"
                         "[[job]]\nname = 'long'\ncommand = 'sleep 61'\n"
                         "[[job]]\nname = 'queued'\ncommand = 'true'\n";
  const fs::path json = dir_ / "interrupted.json";
  const auto start = std::chrono::steady_clock::now();
  // SIGINT after a second, as Ctrl-C would: 128 + 2, the reports written all the same.
  const auto r = run("timeout --preserve-status -s INT 1 " + std::string(VMM_BIN) + " farm run '" +
                     farm.string() + "' --jobs 1 --json '" + json.string() + "' --logs '" +
                     (dir_ / "long-logs").string() + "'");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, 130) << r.output;
  EXPECT_LT(seconds, 20) << r.output;
  const auto j = nlohmann::json::parse(read_text(json));
  ASSERT_EQ(j["jobs"].size(), 2U);
  for (const auto& job : j["jobs"]) {
    EXPECT_EQ(job["outcome"], "error") << job.dump();
    EXPECT_EQ(job["reason"], "interrupted") << job.dump();
  }
  // (The pattern cannot match the shell or grep running it.)
  EXPECT_EQ(run("ps -eo args | grep -E '^(/bin/sh -c )?sleep 61$'").status, 1)
      << "a job outlived the farm";
}

TEST_F(FarmRun, AReportThatCannotBeWrittenExitsThree) {
  const fs::path farm = dir_ / "one.toml";
  std::ofstream(farm) << "[[job]]\nname = 'one'\nkind = 'container'\nrootfs = 'root'\n"
                         "command = 'true'\n";
  const auto r =
      run(std::string(VMM_BIN) + " farm run '" + farm.string() +
          "' --junit /nonexistent-dir/out.xml --logs '" + (dir_ / "one-logs").string() + "'");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("vmm farm: cannot write /nonexistent-dir/out.xml"), std::string::npos)
      << r.output;
}

}  // namespace
