// Where the host looks for the guest agent: $VMM_AGENT_BINARY, beside the executable, then the
// installed places.
#include "agent/agent_binary.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Sets or unsets $VMM_AGENT_BINARY for one test and puts the old value back.
class AgentEnvironment {
 public:
  explicit AgentEnvironment(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("VMM_AGENT_BINARY")) old_ = old;
    if (value) {
      ::setenv("VMM_AGENT_BINARY", value->c_str(), 1);
    } else {
      ::unsetenv("VMM_AGENT_BINARY");
    }
  }
  AgentEnvironment(const AgentEnvironment&) = delete;
  AgentEnvironment& operator=(const AgentEnvironment&) = delete;
  ~AgentEnvironment() {
    if (old_) {
      ::setenv("VMM_AGENT_BINARY", old_->c_str(), 1);
    } else {
      ::unsetenv("VMM_AGENT_BINARY");
    }
  }

 private:
  std::optional<std::string> old_;
};

fs::path temp_dir() {
  fs::path dir =
      fs::temp_directory_path() / ("vmm-agent-binary-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(AgentBinary, CandidatesInSearchOrder) {
  const auto c = agent_binary_candidates("/opt/vmm/bin");
  ASSERT_EQ(c.size(), 4U);
  EXPECT_EQ(c[0], fs::path("/opt/vmm/bin/vmm-agent"));
  EXPECT_EQ(c[1], fs::path("/opt/vmm/lib/vmm/vmm-agent"));
  EXPECT_EQ(c[2], fs::path("/usr/local/lib/vmm/vmm-agent"));
  EXPECT_EQ(c[3], fs::path("/usr/lib/vmm/vmm-agent"));
}

TEST(AgentBinary, EnvironmentComesFirst) {
  const fs::path dir = temp_dir();
  std::ofstream(dir / "my-agent") << "agent";
  {
    const AgentEnvironment env((dir / "my-agent").string());
    EXPECT_EQ(find_agent_binary(), dir / "my-agent");
  }
  {
    // Named but not there: an error naming it, no search elsewhere.
    const AgentEnvironment env((dir / "missing").string());
    try {
      (void)find_agent_binary();
      ADD_FAILURE() << "a missing $VMM_AGENT_BINARY was accepted";
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr((dir / "missing").string()));
      EXPECT_THAT(e.what(), HasSubstr("VMM_AGENT_BINARY"));
    }
    const AgentEnvironment directory(dir.string());
    EXPECT_THROW((void)find_agent_binary(), ConfigError);
  }
  fs::remove_all(dir);
}

TEST(AgentBinary, BesideTheExecutableWithoutTheEnvironment) {
  const AgentEnvironment env(std::nullopt);
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe").parent_path();
  const fs::path beside = exe_dir / "vmm-agent";
  if (fs::exists(beside)) GTEST_SKIP() << beside << " exists already";
  std::ofstream(beside) << "agent";
  EXPECT_EQ(find_agent_binary(), beside);
  fs::remove(beside);
}

TEST(AgentBinary, NotFoundNamesEveryPlace) {
  const AgentEnvironment env(std::nullopt);
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe").parent_path();
  const auto candidates = agent_binary_candidates(exe_dir);
  for (const auto& c : candidates) {
    if (fs::exists(c)) GTEST_SKIP() << c << " exists on this host";
  }
  try {
    (void)find_agent_binary();
    ADD_FAILURE() << "found an agent that is not there";
  } catch (const HostResourceError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    EXPECT_THAT(what, HasSubstr("VMM_AGENT_BINARY"));
    for (const auto& c : candidates) EXPECT_THAT(what, HasSubstr(c.string()));
  }
}

}  // namespace
}  // namespace vmm::agent
