#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "vmm/virtio/net_control.hpp"

namespace vmm::virtio {
namespace {

std::vector<uint8_t> request(uint8_t cls, uint8_t command, std::vector<uint8_t> data = {}) {
  data.insert(data.begin(), {cls, command});
  return data;
}

std::vector<uint8_t> le32(uint32_t v) {
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 24)};
}

// A MAC table: the entry count, then that many (here: `macs`) six-byte addresses.
std::vector<uint8_t> mac_table(uint32_t entries, uint32_t macs) {
  std::vector<uint8_t> t = le32(entries);
  t.resize(t.size() + size_t{macs} * 6, 0x02);
  return t;
}

TEST(NetControl, QueuePairsSetWithinRange) {
  NetControlState s;
  EXPECT_EQ(apply_net_control(request(kNetCtrlMq, kNetCtrlMqVqPairsSet, {4, 0}), 4, s), kNetCtrlOk);
  EXPECT_EQ(s.queue_pairs, 4);
  EXPECT_EQ(apply_net_control(request(kNetCtrlMq, kNetCtrlMqVqPairsSet, {1, 0}), 4, s), kNetCtrlOk);
  EXPECT_EQ(s.queue_pairs, 1);
}

TEST(NetControl, QueuePairsOutOfRangeAreRefusedAndChangeNothing) {
  NetControlState s;
  for (const std::vector<uint8_t>& pairs :
       {std::vector<uint8_t>{0, 0}, {5, 0}, {0, 1}, {0xff, 0xff}}) {
    EXPECT_EQ(apply_net_control(request(kNetCtrlMq, kNetCtrlMqVqPairsSet, pairs), 4, s),
              kNetCtrlErr);
    EXPECT_EQ(s.queue_pairs, 1);
  }
}

TEST(NetControl, TruncatedOrOverlongRequestsAreRefused) {
  NetControlState s;
  EXPECT_EQ(apply_net_control({}, 4, s), kNetCtrlErr);
  EXPECT_EQ(apply_net_control(std::vector<uint8_t>{kNetCtrlMq}, 4, s), kNetCtrlErr);
  EXPECT_EQ(apply_net_control(request(kNetCtrlMq, kNetCtrlMqVqPairsSet, {2}), 4, s), kNetCtrlErr);
  EXPECT_EQ(apply_net_control(request(kNetCtrlMq, kNetCtrlMqVqPairsSet, {2, 0, 0}), 4, s),
            kNetCtrlErr);
  EXPECT_EQ(apply_net_control(request(kNetCtrlRx, kNetCtrlRxPromisc, {}), 4, s), kNetCtrlErr);
  EXPECT_EQ(apply_net_control(request(kNetCtrlMac, kNetCtrlMacAddrSet, {2, 0, 0, 0, 0}), 4, s),
            kNetCtrlErr);
  EXPECT_EQ(s.queue_pairs, 1);
  EXPECT_EQ(s.mac, MacAddress{});
}

TEST(NetControl, UnknownClassesAndCommandsAreRefused) {
  NetControlState s;
  EXPECT_EQ(apply_net_control(request(2, 0, {0, 0}), 4, s), kNetCtrlErr);  // VLAN
  EXPECT_EQ(apply_net_control(request(3, 0), 4, s), kNetCtrlErr);          // ANNOUNCE
  EXPECT_EQ(apply_net_control(request(0xff, 0, {1}), 4, s), kNetCtrlErr);  // nonsense
  EXPECT_EQ(apply_net_control(request(kNetCtrlMq, 1, {2, 0}), 4, s), kNetCtrlErr);
  EXPECT_EQ(apply_net_control(request(kNetCtrlRx, 2, {1}), 4, s), kNetCtrlErr);  // ALLUNI
  EXPECT_EQ(apply_net_control(request(kNetCtrlMac, 2, {}), 4, s), kNetCtrlErr);
}

TEST(NetControl, ReceiveModesAreAcknowledgedAndRemembered) {
  NetControlState s;
  EXPECT_EQ(apply_net_control(request(kNetCtrlRx, kNetCtrlRxPromisc, {1}), 1, s), kNetCtrlOk);
  EXPECT_EQ(apply_net_control(request(kNetCtrlRx, kNetCtrlRxAllmulti, {1}), 1, s), kNetCtrlOk);
  EXPECT_TRUE(s.promisc);
  EXPECT_TRUE(s.allmulti);
  EXPECT_EQ(apply_net_control(request(kNetCtrlRx, kNetCtrlRxPromisc, {0}), 1, s), kNetCtrlOk);
  EXPECT_FALSE(s.promisc);
  EXPECT_EQ(apply_net_control(request(kNetCtrlRx, kNetCtrlRxPromisc, {2}), 1, s), kNetCtrlErr);
}

TEST(NetControl, MacAddressSetIsRemembered) {
  NetControlState s;
  EXPECT_EQ(apply_net_control(request(kNetCtrlMac, kNetCtrlMacAddrSet, {2, 1, 2, 3, 4, 9}), 1, s),
            kNetCtrlOk);
  EXPECT_EQ(s.mac, (MacAddress{2, 1, 2, 3, 4, 9}));
}

TEST(NetControl, MacTableMustMatchItsCounts) {
  NetControlState s;
  std::vector<uint8_t> tables = mac_table(2, 2);
  const auto multicast = mac_table(1, 1);
  tables.insert(tables.end(), multicast.begin(), multicast.end());
  EXPECT_EQ(apply_net_control(request(kNetCtrlMac, kNetCtrlMacTableSet, tables), 1, s), kNetCtrlOk);
  EXPECT_EQ(s.unicast_filters, 2u);
  EXPECT_EQ(s.multicast_filters, 1u);

  NetControlState t;
  // Entry counts larger than the data (one so large that entries * 6 wraps 32 bits), data
  // left over, the second table missing.
  for (const auto& [uni, multi] : {std::pair{mac_table(3, 2), mac_table(0, 0)},
                                   std::pair{mac_table(0xffffffff, 1), mac_table(0, 0)},
                                   std::pair{mac_table(0x2aaaaaab, 0), mac_table(0, 0)},
                                   std::pair{mac_table(1, 1), mac_table(0, 1)},
                                   std::pair{mac_table(1, 1), std::vector<uint8_t>{}}}) {
    std::vector<uint8_t> data = uni;
    data.insert(data.end(), multi.begin(), multi.end());
    EXPECT_EQ(apply_net_control(request(kNetCtrlMac, kNetCtrlMacTableSet, data), 1, t),
              kNetCtrlErr);
  }
  EXPECT_EQ(t.unicast_filters, 0u);
}

}  // namespace
}  // namespace vmm::virtio
