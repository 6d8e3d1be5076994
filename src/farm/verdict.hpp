#pragma once
// Whether one attempt of a job passed, from what the farm saw of it: its exit status against
// expect_exit, the farm's timeout, a kernel panic on the console, and (with ktap) the console's
// KTAP/TAP subtests. The first of these that fails names the reason.
#include <optional>
#include <string>
#include <string_view>

#include "farm/job_result.hpp"
#include "farm/job_spec.hpp"

namespace vmm::farm {

struct AttemptFacts {
  std::optional<int> exit_status;  // 128 + S when signal S ended the child
  bool timed_out = false;
  std::string start_error;   // the child could not be started
  std::string_view console;  // this attempt's log
};

inline constexpr std::string_view kKernelPanicMarker = "Kernel panic - not syncing";

[[nodiscard]] Verdict judge(const JobSpec& spec, const AttemptFacts& facts);

}  // namespace vmm::farm
