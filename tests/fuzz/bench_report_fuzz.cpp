// Fuzzes the reader of saved `vmm bench` reports (`vmm bench report FILE.json`): any document
// either gives a report or throws vmm::Error, and every writer then handles what it gave.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "bench/report_writers.hpp"
#include "vmm/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json doc = nlohmann::json::parse(data, data + size, nullptr, false);
  try {
    const vmm::bench::Report report = vmm::bench::report_from_json(doc);
    (void)vmm::bench::report_json(report);
    (void)vmm::bench::report_csv(report);
    (void)vmm::bench::report_svg(report);
    (void)vmm::bench::report_table(report);
  } catch (const vmm::Error&) {
  }
  return 0;
}
