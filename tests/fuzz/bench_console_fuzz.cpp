// Fuzzes the reader of the figures a guest prints for `vmm bench net|blk`: whatever the console
// holds, each figure is a finite number or absent, never a crash.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/io_run.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  const vmm::bench::ConsoleFigure figures[] = {{"tx", "iperf_tx_MBps", ""},
                                               {"seq", "bench_seqread", "MBps"},
                                               {"qd32", "bench_randread_qd32", "IOPS"}};
  for (const auto& f : figures) {
    if (auto value = vmm::bench::find_figure(lines, f); value && !std::isfinite(*value)) {
      std::abort();
    }
  }
  return 0;
}
