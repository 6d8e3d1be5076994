// `vmm run --jail`'s plan, without making one: the ids it drops to, the configurations it
// refuses, the cgroup limits it gives the VM and the host directories its root shows.
#include "jail/jail.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm::jail {
namespace {

TEST(JailUser, TakesUidAndOptionalGidAndRefusesRootAndJunk) {
  const JailOptions one = parse_jail_user("1000");
  EXPECT_EQ(one.uid, 1000U);
  EXPECT_EQ(one.gid, 1000U);
  const JailOptions two = parse_jail_user("1000:100");
  EXPECT_EQ(two.uid, 1000U);
  EXPECT_EQ(two.gid, 100U);
  for (const char* bad : {"0", "0:100", "100:0", "", "x", "1000:", ":100", "-1", "4294967296",
                          "10 00", "1000:100:1"}) {
    EXPECT_THROW((void)parse_jail_user(bad), ConfigError) << "'" << bad << "'";
  }
  EXPECT_EQ(JailOptions{}.uid, 65534U);
  EXPECT_EQ(JailOptions{}.gid, 65534U);
}

TEST(JailPlan, RefusesUserNetworkingAndExecButTakesTaps) {
  VmConfig config;
  virtio::NetConfig tap;
  tap.kind = virtio::NetConfig::Kind::kTap;
  tap.tap_name = "tap0";
  config.nets.push_back(tap);
  EXPECT_NO_THROW(check_jailable(config));

  VmConfig user = config;
  user.nets.push_back(virtio::NetConfig{});  // kUser by default
  try {
    check_jailable(user);
    ADD_FAILURE() << "user networking accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--net user"), std::string::npos) << e.what();
  }
  VmConfig exec = config;
  exec.host_exec = HostExecConfig{.command = "true"};
  EXPECT_THROW(check_jailable(exec), ConfigError);
}

bool has_rule(const container::Resources& r, char type, int64_t major, int64_t minor,
              const std::string& access) {
  return std::any_of(r.devices.begin(), r.devices.end(), [&](const container::DeviceRule& d) {
    return d.allow && d.type == type && d.major == major && d.minor == minor && d.access == access;
  });
}

TEST(JailPlan, CgroupLimitsAreGuestRamPlusAnAllowancePidsAndOnlyTheVmsDevices) {
  VmConfig config;
  config.memory_bytes = 512ULL << 20;
  config.kvm_device = "/dev/null";  // another node given with --kvm-device gets its own rule
  const container::Resources r = jail_resources(config);
  EXPECT_EQ(r.memory_limit, static_cast<int64_t>((512ULL << 20) + kJailMemoryOverhead));
  EXPECT_EQ(r.memory_swap, r.memory_limit) << "no swap beyond the limit";
  EXPECT_EQ(r.pids_limit, kJailPidsLimit);
  ASSERT_FALSE(r.devices.empty());
  EXPECT_FALSE(r.devices.front().allow) << "everything is denied first";
  EXPECT_EQ(r.devices.front().type, 'a');
  EXPECT_TRUE(has_rule(r, 'c', 10, 232, "rw")) << "/dev/kvm";
  EXPECT_TRUE(has_rule(r, 'c', 10, 200, "rw")) << "/dev/net/tun";
  EXPECT_TRUE(has_rule(r, 'c', 10, 238, "rw")) << "/dev/vhost-net";
  EXPECT_TRUE(has_rule(r, 'c', 1, 3, "rw")) << "the --kvm-device node";
}

TEST(JailPlan, HugeGuestMemoryDoesNotOverflowTheLimit) {
  VmConfig config;
  config.memory_bytes = ~0ULL;
  const container::Resources r = jail_resources(config);
  ASSERT_TRUE(r.memory_limit.has_value());
  EXPECT_GT(*r.memory_limit, 0);
}

TEST(JailPlan, TheRootShowsOnlyTheVsockSocketsDirectory) {
  VmConfig config;
  EXPECT_TRUE(jail_visible_directories(config).empty());
  config.vsock = VsockConfig{.cid = 3, .socket = "/run/vmm/guest1/../guest1/v.sock"};
  EXPECT_EQ(jail_visible_directories(config), std::vector<std::string>{"/run/vmm/guest1"});
}

}  // namespace
}  // namespace vmm::jail
