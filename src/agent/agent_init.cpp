#include "agent/agent_init.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vmm::agent {

bool start_in_background(const std::function<void()>& agent) {
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "vmm-agent: fork: %s (starting init without the agent)\n",
                 std::strerror(errno));
    return false;
  }
  if (pid == 0) {
    ::setsid();
    agent();
    _exit(1);
  }
  return true;
}

void hand_over_to_init(const std::vector<std::string>& args,
                       std::span<const std::string_view> candidates) {
  std::vector<std::string> owned = args.empty() ? std::vector<std::string>{""} : args;
  for (const auto candidate : candidates) {
    const std::string init(candidate);
    owned[0] = init;
    std::vector<char*> argv;
    argv.reserve(owned.size() + 1);
    for (auto& arg : owned) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(init.c_str(), argv.data());
    std::fprintf(stderr, "vmm-agent: cannot run %s as init: %s\n", init.c_str(),
                 std::strerror(errno));
  }
  std::fprintf(stderr,
               "vmm-agent: no init to hand over to: the initramfs needs /init (or "
               "/sbin/init)\n");
  _exit(1);
}

}  // namespace vmm::agent
