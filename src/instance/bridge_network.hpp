#pragma once
// The managed bridge instances attach to, as LXD's lxdbr0: a Linux bridge holding the subnet's
// gateway address, NAT to the host's routes (iptables MASQUERADE), and dnsmasq (DHCP and DNS,
// started and restarted by the manager) answering for the instances' names. The bridge stays
// when the manager stops, so running instances keep their network; dnsmasq and the NAT rule go
// with the manager and come back with the next one.
//
// Containers get a veth pair: the host end on the bridge, the other end eth0 in the
// container's network namespace, with the instance's own MAC and address. VMs get a TAP on the
// bridge and ask by DHCP; dnsmasq reserves the instance's address for its MAC.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace vmm::instance {

struct BridgeConfig {
  std::string name = "vmmbr0";
  std::string gateway = "10.44.0.1/24";  // the bridge's address; instances get the rest
};

// "A.B.C.D/N" into the address and prefix (host byte order); vmm::ConfigError otherwise. The
// prefix is 16 to 29, and the address neither the network nor the broadcast address.
struct Ipv4Cidr {
  uint32_t address = 0;
  int prefix = 0;
};
[[nodiscard]] Ipv4Cidr parse_cidr(const std::string& text);
[[nodiscard]] std::string ipv4_text(uint32_t address);

// A MAC in LXD's range (00:16:3e), random in its low three bytes.
[[nodiscard]] std::string random_mac();

class BridgeNetwork final {
 public:
  // Creates (or adopts) the bridge, the NAT rule and dnsmasq. vmm::Error when it cannot.
  BridgeNetwork(BridgeConfig config, const std::filesystem::path& state_dir);
  BridgeNetwork(const BridgeNetwork&) = delete;
  BridgeNetwork& operator=(const BridgeNetwork&) = delete;
  ~BridgeNetwork();  // stops dnsmasq, removes the NAT rule; the bridge stays

  [[nodiscard]] const std::string& name() const noexcept { return config_.name; }
  [[nodiscard]] std::string gateway_address() const { return ipv4_text(gateway_.address); }
  [[nodiscard]] int prefix() const noexcept { return gateway_.prefix; }

  // The lowest address of the subnet not in `taken` (and not the gateway); vmm::StateError
  // when the subnet is full.
  [[nodiscard]] std::string allocate(const std::set<std::string>& taken) const;
  // Attaches the running container `pid` as eth0 with `mac` and `address`; `host_end` names
  // the host's veth end (an old one of that name is replaced).
  void attach_container(pid_t pid, const std::string& host_end, const std::string& mac,
                        const std::string& address) const;
  // Instance names dnsmasq answers for ("address name" lines) and the DHCP reservations of
  // instances that ask for their address ("mac,address" lines).
  void publish_hosts(const std::string& hosts, const std::string& dhcp_hosts);
  // The address dnsmasq has leased to `mac`, or "" when none.
  [[nodiscard]] std::string leased_address(const std::string& mac) const;

 private:
  void run_dnsmasq();

  BridgeConfig config_;
  Ipv4Cidr gateway_;
  std::filesystem::path dir_;  // <state>/network: dnsmasq's hosts, leases and pid files
  std::string nat_rule_;       // the subnet, as iptables names it
  std::mutex hosts_mutex_;
  std::atomic<bool> stopping_{false};
  std::atomic<pid_t> dnsmasq_pid_{0};
  std::thread supervisor_;
};

}  // namespace vmm::instance
