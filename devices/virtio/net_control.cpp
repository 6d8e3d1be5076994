#include "vmm/virtio/net_control.hpp"

#include <cstring>

namespace vmm::virtio {

namespace {

constexpr size_t kMacLen = 6;

uint32_t load_le32(std::span<const uint8_t> bytes) noexcept {
  uint32_t v = 0;
  std::memcpy(&v, bytes.data(), sizeof v);  // little-endian host (checked in queue.cpp)
  return v;
}

// One virtio_net_ctrl_mac table (le32 entries, then entries * 6 bytes) at the front of
// `data`: its entry count, and `data` advanced past it. False when it does not fit.
bool take_mac_table(std::span<const uint8_t>& data, uint32_t& entries) noexcept {
  if (data.size() < sizeof(uint32_t)) return false;
  entries = load_le32(data);
  data = data.subspan(sizeof(uint32_t));
  if (entries > data.size() / kMacLen) return false;  // no multiplication to overflow
  data = data.subspan(size_t{entries} * kMacLen);
  return true;
}

uint8_t apply_rx(uint8_t command, std::span<const uint8_t> data, NetControlState& state) {
  if (data.size() != 1 || data[0] > 1) return kNetCtrlErr;
  const bool on = data[0] == 1;
  switch (command) {
    case kNetCtrlRxPromisc:
      state.promisc = on;
      return kNetCtrlOk;
    case kNetCtrlRxAllmulti:
      state.allmulti = on;
      return kNetCtrlOk;
    default:
      return kNetCtrlErr;  // ALLUNI, NOMULTI, ...: CTRL_RX_EXTRA is not offered
  }
}

uint8_t apply_mac(uint8_t command, std::span<const uint8_t> data, NetControlState& state) {
  if (command == kNetCtrlMacAddrSet) {
    if (data.size() != kMacLen) return kNetCtrlErr;
    std::memcpy(state.mac.data(), data.data(), kMacLen);
    return kNetCtrlOk;
  }
  if (command != kNetCtrlMacTableSet) return kNetCtrlErr;
  uint32_t unicast = 0;
  uint32_t multicast = 0;
  if (!take_mac_table(data, unicast) || !take_mac_table(data, multicast) || !data.empty()) {
    return kNetCtrlErr;
  }
  // Every frame reaches the guest anyway (the TAP does not filter): remember, accept.
  state.unicast_filters = unicast;
  state.multicast_filters = multicast;
  return kNetCtrlOk;
}

uint8_t apply_mq(uint8_t command, std::span<const uint8_t> data, uint16_t max_pairs,
                 NetControlState& state) {
  if (command != kNetCtrlMqVqPairsSet || data.size() != sizeof(uint16_t)) return kNetCtrlErr;
  uint16_t pairs = 0;
  std::memcpy(&pairs, data.data(), sizeof pairs);
  if (pairs == 0 || pairs > max_pairs) return kNetCtrlErr;
  state.queue_pairs = pairs;
  return kNetCtrlOk;
}

}  // namespace

uint8_t apply_net_control(std::span<const uint8_t> request, uint16_t max_pairs,
                          NetControlState& state) noexcept {
  if (request.size() < 2) return kNetCtrlErr;
  const uint8_t cls = request[0];
  const uint8_t command = request[1];
  const std::span<const uint8_t> data = request.subspan(2);
  switch (cls) {
    case kNetCtrlRx:
      return apply_rx(command, data, state);
    case kNetCtrlMac:
      return apply_mac(command, data, state);
    case kNetCtrlMq:
      return apply_mq(command, data, max_pairs, state);
    default:
      return kNetCtrlErr;  // VLAN, ANNOUNCE, GUEST_OFFLOADS...: not offered
  }
}

}  // namespace vmm::virtio
