#pragma once
// Runs a shell command line for tests that check vmm's output with tools written by others
// (iasl, dmidecode): its exit status and everything it printed.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace vmm::test {

struct CommandResult {
  int status = -1;     // the exit status; -1 when it did not exit normally or could not start
  std::string output;  // stdout and stderr
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace vmm::test
