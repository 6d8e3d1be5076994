#include "vmm/virtio/net_factory.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>
#include <vector>

#include "vmm/common/error.hpp"
#include "vmm/virtio/net_slirp.hpp"
#include "vmm/virtio/net_tap.hpp"
#include "vmm/virtio/vhost_net_device.hpp"

namespace vmm::virtio {

MacAddress default_mac(const NetConfig& config, size_t index) {
  // FNV-1a: stable across runs and builds (std::hash is not).
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](uint8_t byte) {
    h ^= byte;
    h *= 1099511628211ULL;
  };
  // Both arms string_view: a std::string/const char* mix would make a temporary string here.
  const std::string_view key = config.kind == NetConfig::Kind::kTap
                                   ? std::string_view(config.tap_name)
                                   : std::string_view("user");
  for (const char c : key) mix(static_cast<uint8_t>(c));
  for (size_t i = 0; i < sizeof index; ++i) mix(static_cast<uint8_t>(index >> (8 * i)));
  // 0x02: locally administered, unicast.
  return MacAddress{0x02,
                    static_cast<uint8_t>(h >> 32),
                    static_cast<uint8_t>(h >> 24),
                    static_cast<uint8_t>(h >> 16),
                    static_cast<uint8_t>(h >> 8),
                    static_cast<uint8_t>(h)};
}

namespace {

// One TAP queue per pair; for a count the user did not give, a TAP that refuses multi_queue
// (made by `ip tuntap` without it) gets a single queue instead of failing the VM.
std::vector<std::unique_ptr<NetBackend>> open_tap_queues(const NetConfig& config, uint16_t pairs) {
  std::vector<std::unique_ptr<NetBackend>> backends;
  try {
    for (uint16_t i = 0; i < pairs; ++i) {
      backends.push_back(std::make_unique<TapBackend>(
          config.tap_name, i == 0 ? config.bridge : std::string(), pairs > 1));
    }
  } catch (const ConfigError& e) {
    if (pairs == 1 || config.queues != 0) throw;
    spdlog::info("virtio-net {}: one queue pair: the TAP does not take {} ({})", config.tap_name,
                 pairs, e.what());
    backends.clear();
    backends.push_back(std::make_unique<TapBackend>(config.tap_name, config.bridge, false));
  }
  return backends;
}

}  // namespace

std::shared_ptr<VirtioDevice> make_net_device(const NetConfig& config, EventLoop& loop,
                                              size_t index, uint32_t vcpus) {
  const MacAddress mac = config.mac.value_or(default_mac(config, index));
  std::vector<std::unique_ptr<NetBackend>> backends;
  if (config.kind == NetConfig::Kind::kTap) {
    if (config.vhost && config.queues <= 1) {
      auto tap = std::make_unique<TapBackend>(config.tap_name, config.bridge);
      std::string why;
      std::unique_ptr<VhostNet> vhost;
      try {
        if (auto io = open_vhost_net(
                config.vhost_device.empty() ? kVhostNetDevice : config.vhost_device, why)) {
          vhost = std::make_unique<VhostNet>(std::move(io));
        }
      } catch (const Error& e) {
        why = e.what();
      }
      if (vhost)
        return std::make_shared<VhostNetDevice>(std::move(tap), std::move(vhost), mac, loop);
      spdlog::warn("virtio-net {}: vhost-net unavailable ({}): using the user-space data path",
                   config.tap_name, why);
      backends.push_back(std::move(tap));
    } else {
      backends = open_tap_queues(config, net_queue_pairs(config, vcpus));
    }
  } else {
    backends.push_back(std::make_unique<SlirpBackend>(config.host_forwards, loop));
  }
  return std::make_shared<VirtioNet>(std::move(backends), mac, loop);
}

}  // namespace vmm::virtio
