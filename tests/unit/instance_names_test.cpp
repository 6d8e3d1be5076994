#include <gtest/gtest.h>

#include <map>
#include <string>

#include "instance/instance_record.hpp"
#include "instance/names.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

TEST(InstanceNames, HostNameLabelsAreAccepted) {
  for (const char* good : {"a", "web1", "my-alpine", "A9-b"}) {
    EXPECT_NO_THROW(validate_instance_name(good)) << good;
  }
  EXPECT_NO_THROW(validate_instance_name(std::string(63, 'x')));
}

TEST(InstanceNames, BadNamesSayWhy) {
  for (const char* bad : {"", "9lives", "-x", "x-", "has space", "under_score", "a/b", "a.b"}) {
    EXPECT_THROW(validate_instance_name(bad), ConfigError) << bad;
  }
  EXPECT_THROW(validate_instance_name(std::string(64, 'x')), ConfigError);
  try {
    validate_instance_name("9lives");
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("start with a letter"), std::string::npos);
  }
}

TEST(InstanceNames, SnapshotNamesAreSinglePathComponents) {
  EXPECT_NO_THROW(validate_snapshot_name("snap0"));
  EXPECT_NO_THROW(validate_snapshot_name("before_upgrade.1"));
  for (const char* bad : {"", ".", "..", "a/b", "a b"}) {
    EXPECT_THROW(validate_snapshot_name(bad), ConfigError) << bad;
  }
}

TEST(InstanceNames, AliasesMustNotReadAsFingerprints) {
  EXPECT_NO_THROW(validate_image_alias("debian/12"));
  EXPECT_NO_THROW(validate_image_alias("busybox"));
  for (const char* bad : {"", "/x", "x/", "a b", "../x", "deadbeef"}) {
    EXPECT_THROW(validate_image_alias(bad), ConfigError) << bad;
  }
}

TEST(InstanceConfig, KnownKeysAndValuesAreChecked) {
  EXPECT_NO_THROW(validate_config({{"limits.cpu", "2"},
                                   {"limits.memory", "1GiB"},
                                   {"boot.autostart", "true"},
                                   {"user.note", "anything"}}));
  EXPECT_THROW(validate_config({{"limits.cpu", "0"}}), ConfigError);
  EXPECT_THROW(validate_config({{"limits.cpu", "2x"}}), ConfigError);
  EXPECT_THROW(validate_config({{"limits.memory", "lots"}}), ConfigError);
  EXPECT_THROW(validate_config({{"limits.memory", "1TiB"}}), ConfigError);
  EXPECT_THROW(validate_config({{"limits.memory", "99999999999999999999"}}), ConfigError);
  EXPECT_THROW(validate_config({{"boot.autostart", "yes"}}), ConfigError);
  EXPECT_THROW(validate_config({{"security.privileged", "true"}}), ConfigError);
}

TEST(InstanceConfig, MemoryLimitUnits) {
  EXPECT_EQ(memory_limit({}), 0U);
  EXPECT_EQ(memory_limit({{"limits.memory", "256MiB"}}), 256ULL << 20);
  EXPECT_EQ(memory_limit({{"limits.memory", "1GiB"}}), 1ULL << 30);
  EXPECT_EQ(memory_limit({{"limits.memory", "1GB"}}), 1000000000ULL);
  EXPECT_EQ(memory_limit({{"limits.memory", "4096"}}), 4096ULL);
}

TEST(InstanceRecord, RoundTripsThroughItsFile) {
  const auto file = std::filesystem::temp_directory_path() / "vmm-instance-record-test.json";
  InstanceRecord r;
  r.name = "web";
  r.type = InstanceType::kContainer;
  r.image = std::string(64, 'a');
  r.config = {{"limits.cpu", "2"}};
  r.created_at = "2026-12-03T00:00:00Z";
  r.running_wanted = true;
  r.creating = false;
  r.vsock_cid = 42;
  r.agent_hook = "systemd";
  save_record(file, r);
  const InstanceRecord back = load_record(file);
  EXPECT_EQ(back.name, "web");
  EXPECT_EQ(back.image, r.image);
  EXPECT_EQ(back.config, r.config);
  EXPECT_TRUE(back.running_wanted);
  EXPECT_FALSE(back.creating);
  EXPECT_EQ(back.vsock_cid, 42U);
  EXPECT_EQ(back.agent_hook, "systemd");
  std::filesystem::remove(file);
  EXPECT_THROW((void)load_record(file), Error);
  EXPECT_THROW((void)parse_type("pod"), ConfigError);
  EXPECT_EQ(parse_type("virtual-machine"), InstanceType::kVirtualMachine);
}

}  // namespace
}  // namespace vmm::instance
