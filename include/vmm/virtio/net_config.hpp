#pragma once
// What `--net` asks for, and the factory the VM builder calls to make the device.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/virtio/net_device.hpp"
#include "vmm/vmm/event_loop.hpp"

namespace vmm::virtio {

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
  std::string tap_name;                    // kTap
  std::vector<HostForward> host_forwards;  // kUser
  std::optional<MacAddress> mac;           // nullopt: derived by default_mac()
};

// Locally administered, unicast, and stable across runs: 02: followed by a hash of the TAP
// name (or "user") and the interface index.
[[nodiscard]] MacAddress default_mac(const NetConfig& config, size_t index);

// Opens the backend and builds the device. Throws vmm::ConfigError when the user's request
// cannot be met (TAP cannot be opened, a forwarded port is taken), saying why.
[[nodiscard]] std::shared_ptr<VirtioNet> make_net_device(const NetConfig& config, EventLoop& loop,
                                                         size_t index);

}  // namespace vmm::virtio
