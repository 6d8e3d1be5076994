// The reports of a farm run: JUnit XML (valid against tests/farm/junit.xsd whatever the console
// held), TAP 13 and JSON, all with the same exact counts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <string>

#include "farm/report_writers.hpp"

namespace {

using namespace vmm::farm;

JobResult job(const std::string& name, JobKind kind, Outcome outcome, const std::string& reason) {
  JobResult r;
  r.spec.name = name;
  r.spec.kind = kind;
  r.verdict.outcome = outcome;
  r.verdict.reason = reason;
  r.attempts = 1;
  r.seconds = 1.25;
  r.total_seconds = 1.25;
  r.log = "/logs/" + name + ".log";
  return r;
}

// Six jobs, one of each kind of result, and a KTAP job with a passing, a failing and a skipped
// case: 9 test cases, 3 failures (bad-exit, kt, kt's b), 2 errors (slow, broken), 1 skipped.
FarmReport sample() {
  FarmReport report;
  report.name = "sample";
  report.timestamp = "2026-12-04T01:02:03";
  report.hostname = "host";
  report.wall_seconds = 4.5;
  auto ok = job("ok-vm", JobKind::kVm, Outcome::kPassed, "");
  ok.verdict.exit_status = 0;
  // What a hostile guest may print: escapes, NUL, bytes that are not UTF-8.
  ok.log_tail = std::string("boot \x1b[31mred\x1b[0m \x00 \xff\xfe end\r\n", 29);
  report.jobs.push_back(ok);
  auto bad = job("bad-exit", JobKind::kVm, Outcome::kFailed,
                 "exit status 7 (debug-exit value 3), expected 0");
  bad.verdict.exit_status = 7;
  bad.verdict.debug_exit_value = 3;
  report.jobs.push_back(bad);
  report.jobs.push_back(
      job("slow", JobKind::kContainer, Outcome::kTimedOut, "timed out after 1 s"));
  auto kt = job("kt", JobKind::kContainer, Outcome::kFailed, "1 of 3 KTAP subtests failed");
  kt.spec.ktap = true;
  kt.verdict.exit_status = 0;
  kt.verdict.ktap.found = true;
  kt.verdict.ktap.cases = {{"suite.a", KtapStatus::kPass, ""},
                           {"suite.b", KtapStatus::kFail, "not ok 2 b"},
                           {"suite.c", KtapStatus::kSkip, "no <device> & \"quotes\""}};
  report.jobs.push_back(kt);
  auto flaky = job("flaky", JobKind::kContainer, Outcome::kFlaky, "");
  flaky.attempts = 2;
  flaky.verdict.exit_status = 0;
  report.jobs.push_back(flaky);
  report.jobs.push_back(job("broken", JobKind::kVm, Outcome::kError, "could not start: x"));
  return report;
}

std::size_t count_elements(const pugi::xml_node& root, const char* name) {
  std::size_t n = 0;
  for (const auto& x : root.select_nodes((std::string("//") + name).c_str())) {
    (void)x;
    ++n;
  }
  return n;
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find('\n', at);
    if (text.compare(at, prefix.size(), prefix) == 0) ++n;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return n;
}

TEST(FarmReports, JunitCountsAreExact) {
  const auto xml = junit_xml(sample());
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str())) << xml;
  const auto suites = doc.child("testsuites");
  EXPECT_EQ(suites.attribute("tests").as_int(), 9);
  EXPECT_EQ(suites.attribute("failures").as_int(), 3);
  EXPECT_EQ(suites.attribute("errors").as_int(), 2);
  EXPECT_EQ(count_elements(doc, "testsuite"), 6U);
  EXPECT_EQ(count_elements(doc, "testcase"), 9U);
  EXPECT_EQ(count_elements(doc, "failure"), 3U);
  EXPECT_EQ(count_elements(doc, "error"), 2U);
  EXPECT_EQ(count_elements(doc, "skipped"), 1U);
  const auto kt = suites.find_child_by_attribute("testsuite", "name", "kt");
  EXPECT_EQ(kt.attribute("tests").as_int(), 4);
  EXPECT_EQ(kt.attribute("failures").as_int(), 2);
  EXPECT_EQ(kt.attribute("skipped").as_int(), 1);
  const auto b = kt.find_child_by_attribute("testcase", "name", "suite.b");
  EXPECT_STREQ(b.attribute("classname").value(), "kt.ktap");
  EXPECT_STREQ(b.child("failure").attribute("message").value(), "not ok 2 b");
  const auto slow = suites.find_child_by_attribute("testsuite", "name", "slow");
  EXPECT_STREQ(slow.child("testcase").child("error").attribute("type").value(), "timeout");
  const auto bad = suites.find_child_by_attribute("testsuite", "name", "bad-exit");
  EXPECT_STREQ(bad.child("properties")
                   .find_child_by_attribute("property", "name", "debug_exit_value")
                   .attribute("value")
                   .value(),
               "3");
  const auto flaky = suites.find_child_by_attribute("testsuite", "name", "flaky");
  EXPECT_STREQ(flaky.child("properties")
                   .find_child_by_attribute("property", "name", "outcome")
                   .attribute("value")
                   .value(),
               "passed-flaky");
  const std::string out = suites.find_child_by_attribute("testsuite", "name", "ok-vm")
                              .child("testcase")
                              .child_value("system-out");
  EXPECT_NE(out.find("boot "), std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST(FarmReports, JunitValidatesAgainstTheSchemaWhateverTheConsoleHeld) {
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("farm-junit-" + std::to_string(::getpid()) + ".xml");
  std::ofstream(file) << junit_xml(sample());
  const std::string cmd =
      "xmllint --noout --schema '" VMM_FARM_JUNIT_XSD "' '" + file.string() + "' 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, p) != nullptr) output += buffer;
  const int status = ::pclose(p);
  std::filesystem::remove(file);
  EXPECT_EQ(status, 0) << output;
}

TEST(FarmReports, TapAgreesWithJunit) {
  const auto tap = tap_text(sample());
  EXPECT_EQ(tap.rfind("TAP version 13\n1..9\n", 0), 0U) << tap;
  EXPECT_EQ(count_lines_starting(tap, "ok "), 4U) << tap;
  EXPECT_EQ(count_lines_starting(tap, "not ok "), 5U) << tap;  // 3 failures + 2 errors
  EXPECT_EQ(count_lines_starting(tap, "  severity: fail"), 3U) << tap;
  EXPECT_EQ(count_lines_starting(tap, "  severity: error"), 2U) << tap;
  EXPECT_NE(tap.find("ok 7 - kt: suite.c # SKIP no <device> & \"quotes\"\n"), std::string::npos)
      << tap;
  EXPECT_NE(tap.find("# flaky passed on attempt 2 (flaky)"), std::string::npos) << tap;
}

TEST(FarmReports, JsonAgreesWithJunit) {
  const auto j = report_json(sample());
  EXPECT_EQ(j["totals"]["tests"], 9);
  EXPECT_EQ(j["totals"]["failures"], 3);
  EXPECT_EQ(j["totals"]["errors"], 2);
  EXPECT_EQ(j["totals"]["skipped"], 1);
  EXPECT_EQ(j["jobs_total"], 6);
  EXPECT_EQ(j["jobs_passed"], 2);
  EXPECT_EQ(j["jobs_flaky"], 1);
  EXPECT_EQ(j["jobs_failed"], 4);
  ASSERT_EQ(j["jobs"].size(), 6U);
  EXPECT_EQ(j["jobs"][1]["debug_exit_value"], 3);
  EXPECT_EQ(j["jobs"][2]["outcome"], "timed-out");
  EXPECT_TRUE(j["jobs"][2]["exit_status"].is_null());
  EXPECT_EQ(j["jobs"][3]["ktap"]["failed"], 1);
  EXPECT_EQ(j["jobs"][3]["cases"].size(), 4U);
  EXPECT_EQ(j["jobs"][4]["outcome"], "passed-flaky");
  EXPECT_EQ(j["jobs"][4]["attempts"], 2);
  std::size_t cases = 0;
  for (const auto& jj : j["jobs"]) cases += jj["cases"].size();
  EXPECT_EQ(cases, 9U);
  EXPECT_NO_THROW((void)j.dump());
}

TEST(FarmReports, SummaryTableNamesEveryJobAndTheTotals) {
  const auto table = summary_table(sample());
  for (const char* name : {"ok-vm", "bad-exit", "slow", "kt", "flaky", "broken"}) {
    EXPECT_NE(table.find(std::string("\n") + name + " "), std::string::npos) << table;
  }
  EXPECT_NE(table.find("6 jobs: 2 passed (1 flaky), 4 failed in 4.5s; 9 test cases: 3 failures, "
                       "2 errors, 1 skipped"),
            std::string::npos)
      << table;
}

}  // namespace
