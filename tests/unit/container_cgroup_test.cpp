#include <gtest/gtest.h>

#include <algorithm>

#include "container/cgroup.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

// Abbreviated mountinfo of a hybrid host: v1 controllers plus an empty v2 tree.
constexpr const char* kHybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

std::string value_of(const std::vector<CgroupWrite>& w, const std::string& file) {
  for (const auto& x : w) {
    if (x.file == file) return x.value;
  }
  return "<absent>";
}

TEST(ContainerCgroup, ParsesV1ControllersFromMountinfo) {
  const CgroupLayout l = parse_cgroup_layout(kHybrid, false);
  EXPECT_EQ(l.version, CgroupVersion::kV1);
  EXPECT_EQ(l.v1_mounts.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.v1_mounts.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.v1_mounts.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.v1_mounts.at("pids"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(l.v1_mounts.count("devices"), 0U);
  // systemd's named hierarchy is one more place for the container's cgroup.
  EXPECT_EQ(l.v1_mounts.at("name=systemd"), "/sys/fs/cgroup/systemd");
  EXPECT_EQ(l.v1_mounts.count("systemd"), 0U);
}

TEST(ContainerCgroup, V2LayoutIsTheUnifiedRoot) {
  const CgroupLayout l = parse_cgroup_layout("", true);
  EXPECT_EQ(l.version, CgroupVersion::kV2);
  const auto dirs = cgroup_directories(l, "vmm/web");
  ASSERT_EQ(dirs.size(), 1U);
  EXPECT_EQ(dirs.at(""), "/sys/fs/cgroup/vmm/web");
}

TEST(ContainerCgroup, V1DirectoriesPerController) {
  const auto dirs = cgroup_directories(parse_cgroup_layout(kHybrid, false), "/vmm//web/");
  EXPECT_EQ(dirs.at("memory"), "/sys/fs/cgroup/memory/vmm/web");
  EXPECT_EQ(dirs.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct/vmm/web");
  EXPECT_THROW((void)cgroup_directories(parse_cgroup_layout(kHybrid, false), "vmm/../../etc"),
               ConfigError);
  EXPECT_THROW((void)cgroup_directories(parse_cgroup_layout(kHybrid, false), "/"), ConfigError);
}

TEST(ContainerCgroup, CpusBecomeQuotaOverAPeriod) {
  Resources r;
  cpus_to_quota(1.5, r);
  EXPECT_EQ(r.cpu_period, 100000U);
  EXPECT_EQ(r.cpu_quota, 150000);
  cpus_to_quota(0.001, r);
  EXPECT_EQ(r.cpu_quota, 1000);  // clamped to the kernel's minimum
  EXPECT_THROW(cpus_to_quota(0, r), ConfigError);
  EXPECT_THROW(cpus_to_quota(-1, r), ConfigError);
  EXPECT_THROW(cpus_to_quota(5000, r), ConfigError);
}

TEST(ContainerCgroup, V2LimitFiles) {
  Resources r;
  r.memory_limit = 64 << 20;
  r.memory_swap = 96 << 20;
  cpus_to_quota(0.5, r);
  r.cpu_shares = 1024;
  r.pids_limit = 32;
  const auto w = compute_cgroup_writes(r, CgroupVersion::kV2);
  EXPECT_EQ(value_of(w, "memory.max"), std::to_string(64 << 20));
  EXPECT_EQ(value_of(w, "memory.swap.max"), std::to_string(32 << 20));  // swap alone on v2
  EXPECT_EQ(value_of(w, "cpu.max"), "50000 100000");
  EXPECT_EQ(value_of(w, "cpu.weight"), "39");
  EXPECT_EQ(value_of(w, "pids.max"), "32");
  EXPECT_EQ(value_of(w, "memory.limit_in_bytes"), "<absent>");
}

TEST(ContainerCgroup, V2UnlimitedValues) {
  Resources r;
  r.memory_limit = -1;
  r.memory_swap = -1;
  r.cpu_quota = -1;
  r.pids_limit = 0;
  const auto w = compute_cgroup_writes(r, CgroupVersion::kV2);
  EXPECT_EQ(value_of(w, "memory.max"), "max");
  EXPECT_EQ(value_of(w, "memory.swap.max"), "max");
  EXPECT_EQ(value_of(w, "cpu.max"), "max 100000");
  EXPECT_EQ(value_of(w, "pids.max"), "max");
}

TEST(ContainerCgroup, V1LimitFilesAndDeviceRules) {
  Resources r;
  r.memory_limit = 64 << 20;
  r.memory_swap = 64 << 20;
  cpus_to_quota(2, r);
  r.pids_limit = 10;
  r.devices = {{false, 'a', std::nullopt, std::nullopt, "rwm"},
               {true, 'c', 1, 3, "rwm"},
               {true, 'c', 136, std::nullopt, "rw"}};
  const auto w = compute_cgroup_writes(r, CgroupVersion::kV1);
  EXPECT_EQ(value_of(w, "memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(value_of(w, "memory.memsw.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(value_of(w, "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(value_of(w, "cpu.cfs_quota_us"), "200000");
  EXPECT_EQ(value_of(w, "pids.max"), "10");
  // memsw is optional (hosts without swap accounting), the memory limit itself is not.
  const auto memsw = std::find_if(w.begin(), w.end(), [](const CgroupWrite& x) {
    return x.file == "memory.memsw.limit_in_bytes";
  });
  ASSERT_NE(memsw, w.end());
  EXPECT_TRUE(memsw->optional);
  // memory.limit must be written before memsw (the kernel requires memsw >= limit).
  const auto limit = std::find_if(
      w.begin(), w.end(), [](const CgroupWrite& x) { return x.file == "memory.limit_in_bytes"; });
  EXPECT_LT(limit, memsw);
  std::vector<std::string> devices;
  for (const auto& x : w) {
    if (x.controller == "devices") devices.push_back(x.file + "=" + x.value);
  }
  EXPECT_EQ(devices, (std::vector<std::string>{"devices.deny=a", "devices.allow=c 1:3 rwm",
                                               "devices.allow=c 136:* rw"}));
}

TEST(ContainerCgroup, EveryV1ControllerARuncContainerUses) {
  const Resources r = parse_resources_json(R"({
    "memory": {"swappiness": 10, "disableOOMKiller": true},
    "cpu": {"cpus": "1", "mems": "0"},
    "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1024}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 50}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}})");
  const auto w = compute_cgroup_writes(r, CgroupVersion::kV1);
  EXPECT_EQ(value_of(w, "memory.swappiness"), "10");
  EXPECT_EQ(value_of(w, "memory.oom_control"), "1");
  EXPECT_EQ(value_of(w, "cpuset.cpus"), "1");
  EXPECT_EQ(value_of(w, "cpuset.mems"), "0");
  EXPECT_EQ(value_of(w, "blkio.weight"), "500");
  EXPECT_EQ(value_of(w, "blkio.throttle.read_bps_device"), "8:0 1024");
  EXPECT_EQ(value_of(w, "blkio.throttle.write_iops_device"), "8:0 50");
  EXPECT_EQ(value_of(w, "hugetlb.2MB.limit_in_bytes"), "4194304");
  EXPECT_EQ(value_of(w, "net_cls.classid"), "1048577");
  EXPECT_EQ(value_of(w, "net_prio.ifpriomap"), "eth0 5");
  for (const auto& x : w) {
    EXPECT_EQ(x.file.rfind(x.controller + ".", 0), 0U) << x.file << " under " << x.controller;
  }
}

TEST(ContainerCgroup, V2EquivalentsAndV1OnlyFieldsRefused) {
  Resources r = parse_resources_json(R"({
    "cpu": {"cpus": "0-1"},
    "blockIO": {"weight": 1000, "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}]},
    "hugepageLimits": [{"pageSize": "1GB", "limit": 0}]})");
  const auto w = compute_cgroup_writes(r, CgroupVersion::kV2);
  EXPECT_EQ(value_of(w, "cpuset.cpus"), "0-1");
  EXPECT_EQ(value_of(w, "io.weight"), "default 10000");
  EXPECT_EQ(value_of(w, "io.max"), "8:0 wbps=max");
  EXPECT_EQ(value_of(w, "hugetlb.1GB.max"), "0");
  r.net_class_id = 1;
  EXPECT_THROW((void)compute_cgroup_writes(r, CgroupVersion::kV2), ConfigError);
}

TEST(ContainerCgroup, ResourceDocumentsAreChecked) {
  EXPECT_THROW((void)parse_resources_json("{"), ConfigError);
  EXPECT_THROW((void)parse_resources_json("3e556"), ConfigError);  // a number JSON cannot hold
  EXPECT_THROW((void)parse_resources_json(R"({"memory": {"limit": 1e999}})"), ConfigError);
  EXPECT_THROW((void)parse_resources_json(R"({"blockIO": {"weight": 5}})"), ConfigError);
  EXPECT_THROW((void)parse_resources_json(R"({"cpu": {"cpus": "1;reboot"}})"), ConfigError);
  EXPECT_THROW((void)parse_resources_json(R"({"memory": {"swappiness": 101}})"), ConfigError);
  EXPECT_THROW(
      (void)parse_resources_json(R"({"hugepageLimits": [{"pageSize": "../x", "limit": 1}]})"),
      ConfigError);
  EXPECT_THROW((void)parse_resources_json(
                   R"({"network": {"priorities": [{"name": "a b", "priority": 1}]}})"),
               ConfigError);
}

TEST(ContainerCgroup, NothingRequestedNothingWritten) {
  EXPECT_TRUE(compute_cgroup_writes(Resources{}, CgroupVersion::kV1).empty());
  EXPECT_TRUE(compute_cgroup_writes(Resources{}, CgroupVersion::kV2).empty());
}

}  // namespace
}  // namespace vmm::container
