// Host side only: not part of the guest program built from the rest of this directory.
#include "agent/agent_binary.hpp"

#include <cstdlib>
#include <string>
#include <system_error>

#include "vmm/common/error.hpp"

namespace vmm::agent {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEnvironment = "VMM_AGENT_BINARY";

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

}  // namespace

std::vector<fs::path> agent_binary_candidates(const fs::path& exe_dir) {
  return {exe_dir / "vmm-agent", (exe_dir / ".." / "lib" / "vmm" / "vmm-agent").lexically_normal(),
          "/usr/local/lib/vmm/vmm-agent", "/usr/lib/vmm/vmm-agent"};
}

fs::path find_agent_binary() {
  if (const char* env = std::getenv(kEnvironment); env != nullptr && *env != '\0') {
    if (is_file(env)) return env;
    throw ConfigError(std::string("the guest agent is not where $") + kEnvironment +
                      " says: " + env + " is not a file");
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates = agent_binary_candidates(exe.parent_path());
  if (ec) candidates.erase(candidates.begin(), candidates.begin() + 2);  // no directory of vmm's
  std::string looked = std::string("$") + kEnvironment + " (not set)";
  for (const fs::path& candidate : candidates) {
    if (is_file(candidate)) return candidate;
    looked += ", " + candidate.string();
  }
  throw HostResourceError("the guest agent vmm-agent was not found; looked at " + looked +
                          " (build or install it, or set $" + kEnvironment + ")");
}

}  // namespace vmm::agent
