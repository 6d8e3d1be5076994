#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "instance/bridge_network.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

TEST(BridgeSubnet, GatewayAndPrefixAreParsedAndChecked) {
  const Ipv4Cidr c = parse_cidr("10.44.0.1/24");
  EXPECT_EQ(c.address, 0x0a2c0001U);
  EXPECT_EQ(c.prefix, 24);
  EXPECT_EQ(ipv4_text(c.address), "10.44.0.1");
  EXPECT_EQ(parse_cidr("192.168.7.254/16").prefix, 16);
  for (const char* bad :
       {"10.44.0.1", "10.44.0.1/", "10.44.0.1/8", "10.44.0.1/30", "10.44.0.0/24", "10.44.0.255/24",
        "10.44.0/24", "x/24", "10.44.0.1/24x", "300.1.1.1/24"}) {
    EXPECT_THROW((void)parse_cidr(bad), ConfigError) << bad;
  }
}

TEST(BridgeSubnet, MacsAreInLxdsRangeAndVary) {
  const std::regex format("00:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}");
  const std::string a = random_mac();
  EXPECT_TRUE(std::regex_match(a, format)) << a;
  bool differs = false;
  for (int i = 0; i < 8 && !differs; ++i) differs = random_mac() != a;
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace vmm::instance
