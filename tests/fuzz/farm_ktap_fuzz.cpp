// Fuzzes the KTAP/TAP parser with what a hostile guest may print on its console, and the
// reports that carry it: every input parses, the counts add up, and the JUnit XML written from
// it is well-formed XML again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <pugixml.hpp>
#include <string_view>

#include "farm/ktap.hpp"
#include "farm/report_writers.hpp"
#include "farm/verdict.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view console(reinterpret_cast<const char*>(data), size);
  const auto ktap = vmm::farm::parse_ktap(console);
  const auto counted = ktap.count(vmm::farm::KtapStatus::kPass) +
                       ktap.count(vmm::farm::KtapStatus::kFail) +
                       ktap.count(vmm::farm::KtapStatus::kSkip);
  if (counted != ktap.cases.size() || ktap.cases.size() > vmm::farm::kMaxKtapCases) std::abort();
  if (!ktap.found && !ktap.cases.empty()) std::abort();

  vmm::farm::JobResult job;
  job.spec.name = "fuzz";
  job.spec.ktap = true;
  vmm::farm::AttemptFacts facts;
  facts.exit_status = 0;
  facts.console = console;
  job.verdict = vmm::farm::judge(job.spec, facts);
  job.attempts = 1;
  job.log_tail = std::string(console.substr(0, 4096));
  vmm::farm::FarmReport report;
  report.name = "fuzz";
  report.jobs.push_back(job);
  const auto xml = vmm::farm::junit_xml(report);
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) std::abort();
  (void)vmm::farm::tap_text(report);
  (void)vmm::farm::report_json(report).dump();
  return 0;
}
