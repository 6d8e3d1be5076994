#include "vmm/virtio/net_config_space.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace vmm::virtio {

namespace {

constexpr size_t kCfgStatus = 6;
constexpr size_t kCfgMaxVirtqueuePairs = 8;
constexpr size_t kCfgMtu = 10;
constexpr size_t kConfigSize = 12;

bool has(uint64_t features, unsigned bit) { return (features & feature_bit(bit)) != 0; }

}  // namespace

void read_net_config(const MacAddress& mac, uint16_t pairs, uint16_t mtu, uint64_t offset,
                     std::span<uint8_t> data) {
  std::array<uint8_t, kConfigSize> config{};
  std::copy(mac.begin(), mac.end(), config.begin());
  const uint16_t status = kNetStatusLinkUp;
  std::memcpy(config.data() + kCfgStatus, &status, sizeof status);
  std::memcpy(config.data() + kCfgMaxVirtqueuePairs, &pairs, sizeof pairs);
  std::memcpy(config.data() + kCfgMtu, &mtu, sizeof mtu);
  read_config_bytes(config, offset, data);
}

NetOffloads offloads_for(uint64_t acked_features) {
  NetOffloads offloads;
  offloads.csum = has(acked_features, kNetFeatureGuestCsum);
  // Segmentation offloads need checksum offload too (5.1.3.1).
  offloads.tso4 = offloads.csum && has(acked_features, kNetFeatureGuestTso4);
  offloads.tso6 = offloads.csum && has(acked_features, kNetFeatureGuestTso6);
  offloads.ufo = offloads.csum && has(acked_features, kNetFeatureGuestUfo);
  return offloads;
}

}  // namespace vmm::virtio
