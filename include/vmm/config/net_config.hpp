#pragma once
// What `--net` (or a config file's network-interfaces) asks for, as plain values. The device
// and its factory live in vmm/virtio/net_factory.hpp.
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmm::virtio {

using MacAddress = std::array<uint8_t, 6>;

// Receive/transmit queue pairs a TAP NIC may have (`queues=`); the TAP takes one fd per pair.
inline constexpr uint16_t kNetMaxQueuePairs = 16;

// hostfwd=tcp:HOSTADDR:HOSTPORT-:GUESTPORT
struct HostForward {
  std::string host_addr = "127.0.0.1";
  uint16_t host_port = 0;
  uint16_t guest_port = 0;
  friend bool operator==(const HostForward&, const HostForward&) = default;
};

struct NetConfig {
  enum class Kind { kTap, kUser };
  Kind kind = Kind::kUser;
  std::string tap_name;  // kTap
  std::string bridge;    // kTap: a bridge the TAP joins, brought up
  uint16_t queues = 0;   // kTap: queue pairs, 1..kNetMaxQueuePairs; 0: net_queue_pairs()
  std::vector<HostForward> host_forwards;  // kUser
  std::optional<MacAddress> mac;           // nullopt: derived by default_mac()
  bool vhost = false;                      // kTap: the kernel's vhost-net serves the queues
  std::string vhost_device;                // with vhost: its device node, empty for the default
  friend bool operator==(const NetConfig&, const NetConfig&) = default;
};

// The queue pairs a NIC asks for on a VM with `vcpus` vCPUs: its `queues`, or for 0 one per
// vCPU (at most kNetMaxQueuePairs); one for vhost-net and user networking. A TAP that cannot
// take several queues (made without multi_queue) gets one when the count was not given.
[[nodiscard]] inline uint16_t net_queue_pairs(const NetConfig& config, uint32_t vcpus) noexcept {
  if (config.kind != NetConfig::Kind::kTap || config.vhost) return 1;
  if (config.queues != 0) return config.queues;
  return vcpus == 0 ? uint16_t{1}
                    : static_cast<uint16_t>(std::min<uint32_t>(vcpus, kNetMaxQueuePairs));
}

// "XX:XX:XX:XX:XX:XX", hex digits in either case; nullopt when `text` is not one.
[[nodiscard]] std::optional<MacAddress> parse_mac_address(std::string_view text) noexcept;
// Lower case "xx:xx:xx:xx:xx:xx".
[[nodiscard]] std::string format_mac_address(const MacAddress& mac);

}  // namespace vmm::virtio
