#include "cli/net_option.hpp"

#include <gtest/gtest.h>

#include <string>

#include "vmm/common/error.hpp"
#include "vmm/virtio/net_factory.hpp"

namespace vmm::cli {
namespace {

using virtio::NetConfig;

TEST(NetOption, Tap) {
  const NetConfig n = parse_net_option("tap=vmtap0");
  EXPECT_EQ(n.kind, NetConfig::Kind::kTap);
  EXPECT_EQ(n.tap_name, "vmtap0");
  EXPECT_FALSE(n.mac.has_value());
}

TEST(NetOption, TapWithMac) {
  const NetConfig n = parse_net_option("tap=t1,mac=02:aB:00:11:22:ff");
  ASSERT_TRUE(n.mac.has_value());
  EXPECT_EQ(*n.mac, (virtio::MacAddress{0x02, 0xab, 0x00, 0x11, 0x22, 0xff}));
}

TEST(NetOption, TapOnABridge) {
  const NetConfig n = parse_net_option("tap=vmt1,bridge=br-test,mac=00:16:3e:00:00:01");
  EXPECT_EQ(n.kind, NetConfig::Kind::kTap);
  EXPECT_EQ(n.tap_name, "vmt1");
  EXPECT_EQ(n.bridge, "br-test");
  EXPECT_TRUE(n.mac.has_value());
  EXPECT_TRUE(parse_net_option("tap=vmt1").bridge.empty());
}

TEST(NetOption, Vhost) {
  EXPECT_TRUE(parse_net_option("tap=t0,vhost=on").vhost);
  EXPECT_FALSE(parse_net_option("tap=t0,vhost=off").vhost);
  EXPECT_FALSE(parse_net_option("tap=t0").vhost);
  EXPECT_EQ(parse_net_option("tap=t0,vhost=on,vhost-device=/dev/x").vhost_device, "/dev/x");
  EXPECT_TRUE(parse_net_option("tap=t0").vhost_device.empty());
}

TEST(NetOption, WithoutQueuesATapNicGetsOnePairPerVcpuAndVhostOrUserOne) {
  EXPECT_EQ(virtio::net_queue_pairs(parse_net_option("tap=t0"), 1), 1);
  EXPECT_EQ(virtio::net_queue_pairs(parse_net_option("tap=t0"), 4), 4);
  EXPECT_EQ(virtio::net_queue_pairs(parse_net_option("tap=t0"), 64), virtio::kNetMaxQueuePairs);
  EXPECT_EQ(virtio::net_queue_pairs(parse_net_option("tap=t0,queues=2"), 8), 2);
  EXPECT_EQ(virtio::net_queue_pairs(parse_net_option("tap=t0,queues=1"), 8), 1);
  EXPECT_EQ(virtio::net_queue_pairs(parse_net_option("tap=t0,vhost=on"), 8), 1);
  EXPECT_EQ(virtio::net_queue_pairs(parse_net_option("user"), 8), 1);
}

TEST(NetOption, TapQueues) {
  EXPECT_EQ(parse_net_option("tap=vmt1").queues, 0);  // one pair per vCPU
  EXPECT_EQ(parse_net_option("tap=vmt1,queues=4,mac=02:00:00:00:00:01").queues, 4);
  EXPECT_EQ(parse_net_option("tap=vmt1,queues=16").queues, 16);
}

TEST(NetOption, UserWithForwards) {
  const NetConfig n = parse_net_option("user,hostfwd=tcp::2222-:22,hostfwd=tcp:0.0.0.0:8080-:80");
  EXPECT_EQ(n.kind, NetConfig::Kind::kUser);
  ASSERT_EQ(n.host_forwards.size(), 2u);
  EXPECT_EQ(n.host_forwards[0], (virtio::HostForward{"127.0.0.1", 2222, 22}));
  EXPECT_EQ(n.host_forwards[1], (virtio::HostForward{"0.0.0.0", 8080, 80}));
}

void expect_error(const std::string& spec, const std::string& fragment) {
  try {
    (void)parse_net_option(spec);
    ADD_FAILURE() << spec << " was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << spec << " -> " << e.what();
  }
}

TEST(NetOption, Errors) {
  expect_error("", "missing network kind");
  expect_error("bridge=br0", "unknown network kind");
  expect_error("tap=", "needs an interface name");
  expect_error("tap=abcdefghijklmnopq", "at most 15");
  expect_error("tap=t0,mac=01:00:00:00:00:01", "multicast");
  expect_error("tap=t0,mac=02:00:00:00:00", "XX:XX");
  expect_error("tap=t0,mac=02:00:00:00:00:zz", "XX:XX");
  expect_error("tap=t0,mac=00:00:00:00:00:00", "all zeros");
  expect_error("tap=t0,hostfwd=tcp::1-:2", "needs user mode");
  expect_error("user,hostfwd=udp::1-:2", "must start with tcp:");
  expect_error("user,hostfwd=tcp::0-:22", "not a port");
  expect_error("user,hostfwd=tcp::70000-:22", "not a port");
  expect_error("user,hostfwd=tcp::22-:", "not a port");
  expect_error("user,hostfwd=tcp:host:22-:22", "not an IPv4 address");
  expect_error("user,hostfwd=tcp:22:22", "is not tcp:");
  expect_error("user,speed=10", "unknown option");
  expect_error("user,bridge=br0", "needs tap=NAME");
  expect_error("tap=t0,bridge=", "not a valid interface name");
  expect_error("tap=t0,queues=0", "not a number of queue pairs (1-16)");
  expect_error("tap=t0,queues=17", "not a number of queue pairs");
  expect_error("tap=t0,queues=2x", "not a number of queue pairs");
  expect_error("tap=t0,queues=", "not a number of queue pairs");
  expect_error("tap=t0,queues=-1", "not a number of queue pairs");
  expect_error("user,queues=2", "needs tap=NAME");
  expect_error("tap=t0,bridge=abcdefghijklmnopq", "not a valid interface name");
  expect_error("tap=t0,bridge=a/b", "not a valid interface name");
  expect_error("user,novalue", "not KEY=VALUE");
  expect_error("user,vhost=on", "needs tap=NAME");
  expect_error("tap=t0,vhost=yes", "on or off");
  expect_error("tap=t0,vhost=", "on or off");
  expect_error("user,vhost-device=/dev/x", "needs tap=NAME");
  expect_error("tap=t0,vhost-device=", "needs a path");
  expect_error("tap=t0,vhost=on,queues=2", "one queue pair");
  expect_error("tap=t0,queues=2,vhost=on", "one queue pair");
}

TEST(NetOption, DefaultMacIsStableLocalAndDistinct) {
  const NetConfig a = parse_net_option("tap=t0");
  const NetConfig b = parse_net_option("tap=t1");
  const auto mac = virtio::default_mac(a, 0);
  EXPECT_EQ(mac, virtio::default_mac(a, 0));
  EXPECT_EQ(mac[0] & 0x03, 0x02);  // locally administered, unicast
  EXPECT_NE(mac, virtio::default_mac(b, 0));
  EXPECT_NE(mac, virtio::default_mac(a, 1));
}

}  // namespace
}  // namespace vmm::cli
