#include "vmm/confine/host_network.hpp"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "vmm/common/error.hpp"

namespace vmm::confine {
namespace {

std::mutex g_mutex;
UniqueFd g_host_netns;

}  // namespace

void keep_host_network_namespace(UniqueFd host_netns) noexcept {
  const std::lock_guard lock(g_mutex);
  g_host_netns = std::move(host_netns);
}

bool has_host_network_namespace() noexcept {
  const std::lock_guard lock(g_mutex);
  return g_host_netns.valid();
}

HostNetworkScope::HostNetworkScope() {
  const std::lock_guard lock(g_mutex);
  if (!g_host_netns) return;
  // The calling thread's own namespace (a thread may differ from the process).
  UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) throw system_error("cannot open this thread's network namespace", errno);
  if (::setns(g_host_netns.get(), CLONE_NEWNET) != 0) {
    throw system_error("cannot enter the host's network namespace", errno);
  }
  own_ = std::move(own);
}

HostNetworkScope::~HostNetworkScope() {
  if (!own_) return;
  if (::setns(own_.get(), CLONE_NEWNET) != 0) {
    // A thread left in the host's namespace would defeat the jail: never go on with one.
    spdlog::critical("cannot return to the jail's network namespace: {}", std::strerror(errno));
    std::_Exit(1);
  }
}

}  // namespace vmm::confine
