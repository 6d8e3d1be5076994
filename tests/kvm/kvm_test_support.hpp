#pragma once
// Helpers shared by the KVM test files: environment look-ups, console markers, host tools.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "kvm_test_env.hpp"
#include "subprocess.hpp"

namespace vmm::test {

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

inline std::string cache_dir() {
  const char* home = std::getenv("HOME");
  return env_or("VMM_CACHE_DIR", std::string(home != nullptr ? home : "/root") + "/.cache/vmm");
}

// The value of the guest's `VMMTEST: key=value` line. Serial output uses CRLF, so a value ends
// at the line end. Keys may contain dots.
inline std::optional<std::string> marker(const std::string& console, const std::string& key) {
  const std::regex re("VMMTEST: " + std::regex_replace(key, std::regex(R"([.])"), R"(\.)") +
                      "=([^\r\n]*)");
  std::smatch m;
  if (!std::regex_search(console, m, re)) return std::nullopt;
  return m[1].str();
}

// Why no guest can boot here (no /dev/kvm, a missing binary or kernel), or "": what a scenario
// that boots once for many tests reports as its problem.
inline std::string kvm_environment_problem() {
  const KvmTestEnv& env = KvmTestEnv::get();
  if (!env.has_kvm) return "SKIPPED: no /dev/kvm (run the suite in tests/sandbox)";
  return env.problem;
}

// Base of the fixtures whose tests boot guests: fails loudly (never skips silently) when the
// environment cannot run them, and gives each test its deadline.
class KvmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const KvmTestEnv& env = KvmTestEnv::get();
    if (!env.has_kvm) GTEST_FAIL() << "SKIPPED: no /dev/kvm (run the suite in tests/sandbox)";
    if (!env.problem.empty()) GTEST_FAIL() << env.problem;
    deadline_ = Clock::now() + env.test_limit;
  }
  Clock::time_point deadline_;
};

struct ToolResult {
  ExitStatus status;
  std::string out;
  std::string err;
  [[nodiscard]] bool ok() const { return status.exited && status.code == 0; }
};

// Runs a host tool to completion (killed at the deadline).
inline ToolResult run_tool(const std::vector<std::string>& argv, Clock::time_point deadline) {
  Subprocess p = Subprocess::spawn(argv);
  ToolResult r;
  if (auto s = p.wait(deadline)) {
    r.status = *s;
  } else {
    p.kill();
  }
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

}  // namespace vmm::test
