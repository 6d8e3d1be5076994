#pragma once
// A jailed vmm lives in a network namespace of its own, holding nothing but loopback; the TAP
// devices it was given live in the host's, beside their bridges. While the VM is built the jail
// keeps a handle on the host's namespace, and the code that attaches a TAP steps into it for
// that moment only; the handle is closed before vmm drops its privileges.
#include "vmm/common/unique_fd.hpp"

namespace vmm::confine {

// Keeps `host_netns` (an open /proc/self/ns/net of the host's namespace) for
// HostNetworkScope; an invalid fd forgets the one kept.
void keep_host_network_namespace(UniqueFd host_netns) noexcept;
[[nodiscard]] bool has_host_network_namespace() noexcept;

// For its lifetime the calling thread is in the host's network namespace, when one is kept
// (otherwise it changes nothing). Throws vmm::Error when the switch fails.
class HostNetworkScope final {
 public:
  HostNetworkScope();
  HostNetworkScope(const HostNetworkScope&) = delete;
  HostNetworkScope& operator=(const HostNetworkScope&) = delete;
  ~HostNetworkScope();

 private:
  UniqueFd own_;  // the thread's namespace to return to; invalid when nothing was switched
};

}  // namespace vmm::confine
