#include "cli/net_option.hpp"

#include <arpa/inet.h>
#include <net/if.h>

#include <charconv>
#include <string>

#include "cli/option_list.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

[[noreturn]] void bad(const std::string& what) { throw ConfigError("--net: " + what); }

virtio::MacAddress parse_mac(std::string_view text) {
  const auto parsed = virtio::parse_mac_address(text);
  if (!parsed) bad("mac=" + std::string(text) + " is not XX:XX:XX:XX:XX:XX");
  const virtio::MacAddress mac = *parsed;
  if ((mac[0] & 1) != 0) bad("mac=" + std::string(text) + " is a multicast address");
  if (mac == virtio::MacAddress{}) bad("mac=" + std::string(text) + " is all zeros");
  return mac;
}

uint16_t parse_port(std::string_view text, std::string_view spec) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    bad("hostfwd=" + std::string(spec) + ": '" + std::string(text) + "' is not a port (1-65535)");
  }
  return static_cast<uint16_t>(value);
}

// tcp:[ADDR]:HOSTPORT-:GUESTPORT
virtio::HostForward parse_hostfwd(std::string_view spec) {
  constexpr std::string_view kTcp = "tcp:";
  if (spec.substr(0, kTcp.size()) != kTcp) {
    bad("hostfwd=" + std::string(spec) + " must start with tcp: (tcp:[ADDR]:PORT-:PORT)");
  }
  const std::string_view rest = spec.substr(kTcp.size());
  const size_t dash = rest.find("-:");
  if (dash == std::string_view::npos) {
    bad("hostfwd=" + std::string(spec) + " is not tcp:[ADDR]:PORT-:PORT");
  }
  const std::string_view host = rest.substr(0, dash);
  const size_t colon = host.rfind(':');
  if (colon == std::string_view::npos) {
    bad("hostfwd=" + std::string(spec) + " is not tcp:[ADDR]:PORT-:PORT");
  }
  virtio::HostForward fwd;
  const std::string_view addr = host.substr(0, colon);
  if (!addr.empty()) {
    in_addr parsed{};
    if (::inet_pton(AF_INET, std::string(addr).c_str(), &parsed) != 1) {
      bad("hostfwd=" + std::string(spec) + ": '" + std::string(addr) + "' is not an IPv4 address");
    }
    fwd.host_addr = std::string(addr);
  }
  fwd.host_port = parse_port(host.substr(colon + 1), spec);
  fwd.guest_port = parse_port(rest.substr(dash + 2), spec);
  return fwd;
}

}  // namespace

virtio::NetConfig parse_net_option(std::string_view spec) {
  virtio::NetConfig net;
  bool first = true;
  for (const std::string_view part : split_option_list(spec)) {
    const size_t eq = part.find('=');
    const std::string_view key = part.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    if (first) {
      if (part == "user") {
        net.kind = virtio::NetConfig::Kind::kUser;
      } else if (key == "tap" && eq != std::string_view::npos) {
        if (value.empty()) bad("tap= needs an interface name");
        if (value.size() >= IFNAMSIZ) {
          bad("tap=" + std::string(value) + ": interface names are at most " +
              std::to_string(IFNAMSIZ - 1) + " characters");
        }
        if (value.find('/') != std::string_view::npos || value == "." || value == "..") {
          bad("tap=" + std::string(value) + " is not a valid interface name");
        }
        net.kind = virtio::NetConfig::Kind::kTap;
        net.tap_name = std::string(value);
      } else if (part.empty()) {
        bad("missing network kind (tap=NAME or user)");
      } else {
        bad("unknown network kind '" + std::string(part) + "' (tap=NAME or user)");
      }
      first = false;
    } else if (eq == std::string_view::npos) {
      bad("'" + std::string(part) + "' is not KEY=VALUE");
    } else if (key == "mac") {
      net.mac = parse_mac(value);
    } else if (key == "bridge") {
      if (net.kind != virtio::NetConfig::Kind::kTap) bad("bridge= needs tap=NAME");
      if (value.empty() || value.size() >= IFNAMSIZ || value.find('/') != std::string_view::npos ||
          value == "." || value == "..") {
        bad("bridge=" + std::string(value) + " is not a valid interface name");
      }
      net.bridge = std::string(value);
    } else if (key == "vhost") {
      if (net.kind != virtio::NetConfig::Kind::kTap) bad("vhost= needs tap=NAME");
      if (value != "on" && value != "off") bad("vhost=" + std::string(value) + ": on or off");
      net.vhost = value == "on";
    } else if (key == "vhost-device") {
      // For tests: a node that cannot be opened exercises the fallback.
      if (net.kind != virtio::NetConfig::Kind::kTap) bad("vhost-device= needs tap=NAME");
      if (value.empty()) bad("vhost-device= needs a path");
      net.vhost_device = std::string(value);
    } else if (key == "queues") {
      if (net.kind != virtio::NetConfig::Kind::kTap) bad("queues= needs tap=NAME");
      unsigned n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n == 0 ||
          n > virtio::kNetMaxQueuePairs) {
        bad("queues=" + std::string(value) + " is not a number of queue pairs (1-" +
            std::to_string(virtio::kNetMaxQueuePairs) + ")");
      }
      net.queues = static_cast<uint16_t>(n);
    } else if (key == "hostfwd") {
      if (net.kind != virtio::NetConfig::Kind::kUser) bad("hostfwd= needs user mode networking");
      net.host_forwards.push_back(parse_hostfwd(value));
    } else {
      bad("unknown option '" + std::string(key) + "' (mac, bridge, vhost, queues, hostfwd)");
    }
  }
  if (net.vhost && net.queues > 1) bad("vhost=on moves one queue pair; use queues=1 with it");
  return net;
}

}  // namespace vmm::cli
