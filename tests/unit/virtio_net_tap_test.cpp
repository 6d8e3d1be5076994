#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <unistd.h>

#include "vmm/common/error.hpp"
#include "vmm/virtio/net_tap.hpp"

namespace vmm::virtio {
namespace {

bool can_create_taps() { return ::geteuid() == 0 && ::access("/dev/net/tun", R_OK | W_OK) == 0; }

TEST(TapBackend, CreatedTapDisappearsWithTheBackend) {
  if (!can_create_taps()) GTEST_SKIP() << "needs root and /dev/net/tun";
  const char* name = "vmmnettest0";
  {
    TapBackend tap(name);
    EXPECT_NE(::if_nametoindex(name), 0u);
    EXPECT_EQ(tap.describe(), name);
    EXPECT_TRUE(tap.supports_offloads());
    tap.set_offloads(NetOffloads{true, true, true, false});
    // Nothing was sent to the interface: a non-blocking read finds nothing.
    std::vector<uint8_t> buf(kNetMaxPacketSize);
    EXPECT_EQ(tap.receive(buf), 0u);
  }
  EXPECT_EQ(::if_nametoindex(name), 0u);
}

TEST(TapBackend, BadNameIsAConfigError) {
  EXPECT_THROW(TapBackend("this-name-is-far-too-long"), ConfigError);
}

}  // namespace
}  // namespace vmm::virtio
