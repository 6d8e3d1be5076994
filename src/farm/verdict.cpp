#include "farm/verdict.hpp"

#include <cstdio>

namespace vmm::farm {
namespace {

std::string describe_status(const JobSpec& spec, int status, std::optional<uint64_t>& value) {
  std::string text = "exit status " + std::to_string(status);
  // vmm run's debug-exit mapping: the guest wrote v to port 0xf4, vmm exits (v << 1) | 1 (mod
  // 256). 1 is vmm's own failure; a shell cannot tell it from v = 0, so 1 is not read back.
  if (spec.kind == JobKind::kVm && status > 1 && status < 128 && (status & 1) == 1) {
    value = static_cast<uint64_t>(status) >> 1;
    text += " (debug-exit value " + std::to_string(*value) + ")";
  } else if (status == 4 && spec.kind == JobKind::kVm) {
    text += " (guest kernel panic)";
  } else if (status == 124) {
    text += " (vmm's timeout)";
  } else if (status > 128 && status < 160) {
    text += " (signal " + std::to_string(status - 128) + ")";
  }
  return text;
}

}  // namespace

Verdict judge(const JobSpec& spec, const AttemptFacts& facts) {
  Verdict v;
  v.exit_status = facts.exit_status;
  if (!facts.start_error.empty()) {
    v.outcome = Outcome::kError;
    v.reason = "could not start: " + facts.start_error;
    return v;
  }
  v.kernel_panic = facts.console.find(kKernelPanicMarker) != std::string_view::npos;
  std::string status_text;
  if (facts.exit_status)
    status_text = describe_status(spec, *facts.exit_status, v.debug_exit_value);
  if (spec.ktap) v.ktap = parse_ktap(facts.console);

  if (facts.timed_out) {
    v.outcome = Outcome::kTimedOut;
    v.exit_status.reset();
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", spec.timeout_seconds.value_or(0));
    v.reason = std::string("timed out after ") + seconds + " s";
    if (v.kernel_panic) v.reason += " (after a kernel panic)";
    return v;
  }
  if (v.kernel_panic) {
    v.outcome = Outcome::kFailed;
    v.reason = "kernel panic on the console";
    if (!status_text.empty()) v.reason += ", " + status_text;
    return v;
  }
  if (!facts.exit_status) {
    v.outcome = Outcome::kError;
    v.reason = "no exit status";
    return v;
  }
  if (*facts.exit_status != spec.expect_exit) {
    v.outcome = Outcome::kFailed;
    v.reason = status_text + ", expected " + std::to_string(spec.expect_exit);
    return v;
  }
  if (spec.ktap) {
    const auto failed = v.ktap.count(KtapStatus::kFail);
    if (!v.ktap.found) {
      v.outcome = Outcome::kFailed;
      v.reason = "no KTAP/TAP output on the console";
    } else if (failed > 0) {
      v.outcome = Outcome::kFailed;
      v.reason = std::to_string(failed) + " of " + std::to_string(v.ktap.cases.size()) +
                 " KTAP subtests failed";
    } else if (!v.ktap.problems.empty()) {
      v.outcome = Outcome::kFailed;
      v.reason = "KTAP: " + v.ktap.problems.front();
    }
  }
  return v;
}

}  // namespace vmm::farm
