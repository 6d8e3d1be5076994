#pragma once
// --net veth: a veth pair between the host and the container's network namespace, a /30 of
// 10.200.0.0/16 for the two ends, and a default route via the host end. Done over rtnetlink;
// the pair disappears with the container's namespace, so nothing outlives the container.
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace vmm::container {

struct VethPlan {
  std::string host_name;  // e.g. "vmm3fa2c1d0"
  std::string container_name = "eth0";
  uint32_t host_address = 0;  // host byte order
  uint32_t container_address = 0;
  int prefix = 30;
};

[[nodiscard]] std::string ipv4_to_string(uint32_t addr);

// Chooses names and a /30 no host interface uses yet. Deterministic in `seed`.
[[nodiscard]] VethPlan plan_veth(const std::string& seed);

// Host side: creates the pair with the peer inside the netns of `container_pid`, addresses
// and brings up the host end.
void create_veth(const VethPlan& plan, pid_t container_pid);
// Removes the host end (and with it the peer); used on setup failure.
void delete_link(const std::string& name) noexcept;

// Inside the container's netns: loopback up.
void bring_up_loopback();
// Inside the container's netns: address the peer, bring it up, default route via the host.
void configure_container_veth(const VethPlan& plan);

}  // namespace vmm::container
