#include "container/veth_network.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::container {
namespace {

// A netlink request built in one buffer; nested attributes patch their length on close.
class NlRequest {
 public:
  NlRequest(uint16_t type, uint16_t flags) {
    buf_.resize(NLMSG_HDRLEN);
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
    hdr()->nlmsg_seq = 1;
  }
  template <typename T>
  void put(const T& v) {
    const size_t off = buf_.size();
    buf_.resize(off + NLMSG_ALIGN(sizeof(T)));
    std::memcpy(buf_.data() + off, &v, sizeof(T));
  }
  void attr(uint16_t type, const void* data, size_t len) {
    const size_t off = buf_.size();
    buf_.resize(off + RTA_ALIGN(RTA_LENGTH(len)));
    rtattr rta{static_cast<unsigned short>(RTA_LENGTH(len)), type};
    std::memcpy(buf_.data() + off, &rta, sizeof(rta));
    if (len != 0) std::memcpy(buf_.data() + off + RTA_LENGTH(0), data, len);
  }
  void attr_str(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  template <typename T>
  void attr_val(uint16_t type, T v) {
    attr(type, &v, sizeof(v));
  }
  size_t begin_nest(uint16_t type) {
    const size_t off = buf_.size();
    attr(type, nullptr, 0);
    return off;
  }
  void end_nest(size_t off) {
    rtattr rta{};
    std::memcpy(&rta, buf_.data() + off, sizeof(rta));
    rta.rta_len = static_cast<unsigned short>(buf_.size() - off);
    std::memcpy(buf_.data() + off, &rta, sizeof(rta));
  }
  std::vector<char>& finish() {
    hdr()->nlmsg_len = static_cast<uint32_t>(buf_.size());
    return buf_;
  }

 private:
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  std::vector<char> buf_;
};

void transact(NlRequest& req, const std::string& what) {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!sock) throw system_error("netlink socket", errno);
  auto& buf = req.finish();
  if (::send(sock.get(), buf.data(), buf.size(), 0) < 0) throw system_error(what, errno);
  alignas(nlmsghdr) char reply[8192];
  const ssize_t n = ::recv(sock.get(), reply, sizeof(reply), 0);
  if (n < 0) throw system_error(what, errno);
  // Walk the replies by hand: the NLMSG_* macros use C casts.
  for (size_t off = 0; off + sizeof(nlmsghdr) <= static_cast<size_t>(n);) {
    nlmsghdr h{};
    std::memcpy(&h, reply + off, sizeof(h));
    if (h.nlmsg_len < sizeof(nlmsghdr) || off + h.nlmsg_len > static_cast<size_t>(n)) break;
    if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= NLMSG_HDRLEN + sizeof(nlmsgerr)) {
      nlmsgerr err{};
      std::memcpy(&err, reply + off + NLMSG_HDRLEN, sizeof(err));
      if (err.error != 0) throw system_error(what, -err.error);
      return;
    }
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
}

int link_index(const std::string& name) {
  const unsigned idx = ::if_nametoindex(name.c_str());
  if (idx == 0) throw system_error("no interface " + name, errno);
  return static_cast<int>(idx);
}

void set_up(const std::string& name) {
  NlRequest req(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = link_index(name);
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  req.put(ifi);
  transact(req, "bring up " + name);
}

void add_address(const std::string& name, uint32_t addr, int prefix) {
  NlRequest req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa.ifa_index = static_cast<unsigned>(link_index(name));
  req.put(ifa);
  const uint32_t be = htonl(addr);
  req.attr_val(IFA_LOCAL, be);
  req.attr_val(IFA_ADDRESS, be);
  transact(req, "address " + name);
}

}  // namespace

std::string ipv4_to_string(uint32_t addr) {
  return std::to_string(addr >> 24) + '.' + std::to_string((addr >> 16) & 0xff) + '.' +
         std::to_string((addr >> 8) & 0xff) + '.' + std::to_string(addr & 0xff);
}

VethPlan plan_veth(const std::string& seed) {
  std::vector<uint32_t> used;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i; i = i->ifa_next) {
      if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
        sockaddr_in sin{};
        std::memcpy(&sin, i->ifa_addr, sizeof(sin));
        used.push_back(ntohl(sin.sin_addr.s_addr) & ~3U);
      }
    }
    ::freeifaddrs(list);
  }
  const size_t h = std::hash<std::string>{}(seed);
  VethPlan plan;
  char name[16];
  std::snprintf(name, sizeof(name), "vmm%08zx", h & 0xffffffffU);
  plan.host_name = name;
  constexpr uint32_t kBase = (10U << 24) | (200U << 16);
  for (uint32_t i = 0; i < 16384; ++i) {
    const uint32_t block = kBase + ((static_cast<uint32_t>(h) + i) % 16384) * 4;
    if (std::find(used.begin(), used.end(), block) != used.end()) continue;
    plan.host_address = block + 1;
    plan.container_address = block + 2;
    return plan;
  }
  throw Error("no free /30 left in 10.200.0.0/16 for --net veth");
}

void create_veth(const VethPlan& plan, pid_t container_pid) {
  NlRequest req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  req.put(ifi);
  req.attr_str(IFLA_IFNAME, plan.host_name);
  const size_t linkinfo = req.begin_nest(IFLA_LINKINFO);
  req.attr_str(IFLA_INFO_KIND, "veth");
  const size_t data = req.begin_nest(IFLA_INFO_DATA);
  const size_t peer = req.begin_nest(VETH_INFO_PEER);
  ifinfomsg peer_ifi{};
  peer_ifi.ifi_family = AF_UNSPEC;
  req.put(peer_ifi);
  req.attr_str(IFLA_IFNAME, plan.container_name);
  req.attr_val(IFLA_NET_NS_PID, static_cast<uint32_t>(container_pid));
  req.end_nest(peer);
  req.end_nest(data);
  req.end_nest(linkinfo);
  transact(req, "create veth pair " + plan.host_name);
  try {
    add_address(plan.host_name, plan.host_address, plan.prefix);
    set_up(plan.host_name);
  } catch (...) {
    delete_link(plan.host_name);
    throw;
  }
}

void delete_link(const std::string& name) noexcept {
  try {
    NlRequest req(RTM_DELLINK, 0);
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = link_index(name);
    req.put(ifi);
    transact(req, "delete " + name);
  } catch (...) {
  }
}

void bring_up_loopback() { set_up("lo"); }

void configure_container_veth(const VethPlan& plan) {
  add_address(plan.container_name, plan.container_address, plan.prefix);
  set_up(plan.container_name);
  NlRequest req(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_table = RT_TABLE_MAIN;
  rt.rtm_protocol = RTPROT_BOOT;
  rt.rtm_scope = RT_SCOPE_UNIVERSE;
  rt.rtm_type = RTN_UNICAST;
  req.put(rt);
  req.attr_val(RTA_GATEWAY, htonl(plan.host_address));
  req.attr_val(RTA_OIF, static_cast<uint32_t>(link_index(plan.container_name)));
  transact(req, "default route");
}

}  // namespace vmm::container
