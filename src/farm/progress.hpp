#pragma once
// Live progress of a farm run on stderr: on a terminal, one status line redrawn in place
// (jobs done, the ones running) with a line per finished job above it; elsewhere (CI logs)
// plain lines as jobs start and end.
#include <cstdio>
#include <memory>

#include "farm/scheduler.hpp"

namespace vmm::farm {

[[nodiscard]] std::unique_ptr<ProgressSink> make_progress(std::FILE* out, bool terminal);

}  // namespace vmm::farm
