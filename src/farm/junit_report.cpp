// JUnit XML as Jenkins' JUnit plugin and GitLab read it (the schema is tests/farm/junit.xsd).
#include <cstdio>
#include <pugixml.hpp>
#include <sstream>

#include "farm/printable_text.hpp"
#include "farm/report_cases.hpp"
#include "farm/report_writers.hpp"

namespace vmm::farm {
namespace {

std::string seconds_text(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", seconds < 0 ? 0.0 : seconds);
  return buffer;
}

void set(pugi::xml_node node, const char* name, const std::string& value) {
  node.append_attribute(name) = printable_text(value).c_str();
}

void set(pugi::xml_node node, const char* name, std::size_t value) {
  node.append_attribute(name) = std::to_string(value).c_str();
}

void property(pugi::xml_node properties, const char* name, const std::string& value) {
  auto p = properties.append_child("property");
  set(p, "name", name);
  set(p, "value", value);
}

void add_case(pugi::xml_node suite, const ReportCase& c) {
  auto node = suite.append_child("testcase");
  set(node, "name", c.name);
  set(node, "classname", c.classname);
  set(node, "time", seconds_text(c.seconds));
  const char* element = nullptr;
  switch (c.status) {
    case CaseStatus::kFailed:
      element = "failure";
      break;
    case CaseStatus::kError:
      element = "error";
      break;
    case CaseStatus::kSkipped:
      element = "skipped";
      break;
    case CaseStatus::kPassed:
      break;
  }
  if (element != nullptr) {
    auto why = node.append_child(element);
    set(why, "message", c.message);
    if (c.status != CaseStatus::kSkipped) {
      set(why, "type", c.type);
      why.text().set(printable_text(c.message).c_str());
    }
  }
  if (!c.output.empty()) {
    node.append_child("system-out").text().set(printable_text(c.output).c_str());
  }
}

}  // namespace

std::string junit_xml(const FarmReport& report) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto suites = doc.append_child("testsuites");
  const auto all = totals(report);
  set(suites, "name", report.name);
  set(suites, "tests", all.tests);
  set(suites, "failures", all.failures);
  set(suites, "errors", all.errors);
  set(suites, "time", seconds_text(report.wall_seconds));
  std::size_t id = 0;
  for (const auto& job : report.jobs) {
    const auto cases = report_cases(job);
    const auto t = totals(cases);
    auto suite = suites.append_child("testsuite");
    set(suite, "name", job.spec.name);
    set(suite, "tests", t.tests);
    set(suite, "failures", t.failures);
    set(suite, "errors", t.errors);
    set(suite, "skipped", t.skipped);
    set(suite, "time", seconds_text(job.seconds));
    set(suite, "id", id++);
    if (!report.timestamp.empty()) set(suite, "timestamp", report.timestamp);
    if (!report.hostname.empty()) set(suite, "hostname", report.hostname);
    auto properties = suite.append_child("properties");
    property(properties, "kind", to_string(job.spec.kind));
    property(properties, "outcome", to_string(job.verdict.outcome));
    property(properties, "attempts", std::to_string(job.attempts));
    property(properties, "expect_exit", std::to_string(job.spec.expect_exit));
    if (job.verdict.exit_status) {
      property(properties, "exit_status", std::to_string(*job.verdict.exit_status));
    }
    if (job.verdict.debug_exit_value) {
      property(properties, "debug_exit_value", std::to_string(*job.verdict.debug_exit_value));
    }
    property(properties, "log", job.log.string());
    for (const auto& c : cases) add_case(suite, c);
  }
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent, pugi::encoding_utf8);
  return out.str();
}

}  // namespace vmm::farm
