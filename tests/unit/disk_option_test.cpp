#include "cli/disk_option.hpp"

#include <gtest/gtest.h>

#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

TEST(DiskOption, PathOnly) {
  auto d = parse_disk_option("/images/root.img");
  EXPECT_EQ(d.path, "/images/root.img");
  EXPECT_FALSE(d.read_only);
  EXPECT_TRUE(d.serial.empty());
  EXPECT_EQ(d.cache, virtio::DiskCache::kWriteback);
  EXPECT_FALSE(d.snapshot);
}

TEST(DiskOption, Snapshot) {
  EXPECT_TRUE(parse_disk_option("base.img,snapshot=on").snapshot);
  EXPECT_TRUE(parse_disk_option("base.img,cache=none,snapshot=true").snapshot);
  EXPECT_FALSE(parse_disk_option("base.img,snapshot=off").snapshot);
  const auto d = parse_disk_option("base.img,snapshot=on,readonly=off,serial=S1");
  EXPECT_EQ(d.path, "base.img");
  EXPECT_TRUE(d.snapshot);
  EXPECT_FALSE(d.read_only);
  EXPECT_EQ(d.serial, "S1");
}

TEST(DiskOption, BadSnapshotValueIsOneLineNamingIt) {
  try {
    (void)parse_disk_option("base.img,snapshot=maybe");
    FAIL() << "snapshot=maybe was accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "--disk: snapshot=maybe is not on or off");
  }
  EXPECT_THROW((void)parse_disk_option("base.img,snapshot"), ConfigError);
  EXPECT_THROW((void)parse_disk_option("base.img,snapshot="), ConfigError);
}

TEST(DiskOption, AllOptions) {
  auto d = parse_disk_option("data.img,readonly=on,serial=DISK-7,cache=none");
  EXPECT_EQ(d.path, "data.img");
  EXPECT_TRUE(d.read_only);
  EXPECT_EQ(d.serial, "DISK-7");
  EXPECT_EQ(d.cache, virtio::DiskCache::kNone);
  EXPECT_FALSE(parse_disk_option("x,readonly=off").read_only);
}

TEST(DiskOption, WithoutQueuesADiskGetsOneRequestQueuePerVcpu) {
  const auto d = parse_disk_option("x");
  EXPECT_EQ(virtio::block_queue_count(d, 1), 1u);
  EXPECT_EQ(virtio::block_queue_count(d, 4), 4u);
  EXPECT_EQ(virtio::block_queue_count(d, 64), virtio::kMaxBlockQueues);
  EXPECT_EQ(virtio::block_queue_count(parse_disk_option("x,queues=2"), 8), 2u);
  EXPECT_EQ(virtio::block_queue_count(parse_disk_option("x,queues=1"), 8), 1u);
}

TEST(DiskOption, Queues) {
  EXPECT_EQ(parse_disk_option("x").queues, 0u);  // one per vCPU
  EXPECT_EQ(parse_disk_option("x,queues=1").queues, 1u);
  EXPECT_EQ(parse_disk_option("x,queues=4,cache=none").queues, 4u);
  EXPECT_EQ(parse_disk_option("x,queues=16").queues, 16u);
  for (const char* bad : {"x,queues=0", "x,queues=17", "x,queues=", "x,queues=-1", "x,queues=2x",
                          "x,queues=99999999999999999999"}) {
    try {
      (void)parse_disk_option(bad);
      FAIL() << bad << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("is not a number from 1 to 16"), std::string::npos)
          << e.what();
    }
  }
}

TEST(DiskOption, BadInputIsAConfigError) {
  EXPECT_THROW((void)parse_disk_option(""), ConfigError);
  EXPECT_THROW((void)parse_disk_option(",readonly=on"), ConfigError);
  EXPECT_THROW((void)parse_disk_option("x,readonly"), ConfigError);
  EXPECT_THROW((void)parse_disk_option("x,readonly=maybe"), ConfigError);
  EXPECT_THROW((void)parse_disk_option("x,cache=unsafe"), ConfigError);
  EXPECT_THROW((void)parse_disk_option("x,bogus=1"), ConfigError);
  EXPECT_THROW((void)parse_disk_option("x,serial=123456789012345678901"), ConfigError);
  EXPECT_THROW((void)parse_disk_option("x,"), ConfigError);
}

}  // namespace
}  // namespace vmm::cli
