// A job's log: attempts one after the other, the verdict reading only the current one, and the
// reports quoting its end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "farm/job_log.hpp"

namespace {

namespace fs = std::filesystem;
using vmm::farm::JobLog;

void append(const JobLog& log, const std::string& text) {
  ASSERT_EQ(::write(log.fd(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

TEST(FarmJobLog, EachAttemptIsReadOnItsOwnAndTheTailIsItsEnd) {
  const fs::path path =
      fs::temp_directory_path() / ("farm-log-" + std::to_string(::getpid()) + ".log");
  {
    JobLog log(path);
    const auto first = log.begin_attempt(1, 2);
    EXPECT_EQ(first, 0U);
    append(log, "first attempt\n");
    const auto second = log.begin_attempt(2, 2);
    std::string lines;
    for (int i = 0; i < 1000; ++i) lines += "line " + std::to_string(i) + "\n";
    append(log, lines + "the end\n");
    const auto text = log.read_since(second);
    EXPECT_EQ(text, lines + "the end\n");
    EXPECT_EQ(log.read_since(first).rfind("first attempt\n\n=== vmm farm: attempt 2 of 2 ===\n", 0),
              0U);
    const auto tail = log.read_tail(second);
    EXPECT_LE(tail.size(), vmm::farm::kLogTailBytes);
    EXPECT_GT(tail.size(), vmm::farm::kLogTailBytes / 2);
    EXPECT_TRUE(tail.starts_with("line ")) << tail.substr(0, 20);
    EXPECT_TRUE(tail.ends_with("line 999\nthe end\n"));
  }
  fs::remove(path);
}

TEST(FarmJobLog, ShortConsolesAreQuotedWhole) {
  EXPECT_EQ(vmm::farm::log_tail("a\nb\n"), "a\nb\n");
  const std::string long_line(10000, 'x');
  EXPECT_EQ(vmm::farm::log_tail(long_line).size(), vmm::farm::kLogTailBytes);
}

}  // namespace
