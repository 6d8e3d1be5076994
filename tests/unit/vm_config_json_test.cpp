// The JSON configuration: vmm's schema, Firecracker's config files, the round trip through
// vm_config_to_json, overrides of a base configuration, and an error naming the JSON path for
// every bad document.
#include "vmm/config/vm_config_json.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

virtio::BlockDeviceConfig disk(const std::string& path) {
  virtio::BlockDeviceConfig d;
  d.path = path;
  return d;
}

class VmConfigJson : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vmm-config-json-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    kernel_ = touch("vmlinux");
    initrd_ = touch("initrd.cpio");
    root_ = touch("rootfs.ext4");
    data_ = touch("data.img");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string touch(const std::string& name) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << "x";
    return p.string();
  }

  // Replaces @KERNEL@, @INITRD@, @ROOT@ and @DATA@ with the files of this test.
  json doc(std::string text) const {
    for (const auto& [key, value] : {std::pair{"@KERNEL@", kernel_},
                                     {"@INITRD@", initrd_},
                                     {"@ROOT@", root_},
                                     {"@DATA@", data_}}) {
      for (size_t pos; (pos = text.find(key)) != std::string::npos;) {
        text.replace(pos, std::string(key).size(), value);
      }
    }
    return json::parse(text);
  }

  // The ConfigError a document raises: field and problem.
  std::pair<std::string, std::string> error_of(const json& d) const {
    try {
      (void)vm_config_from_json(d, {});
    } catch (const ConfigError& e) {
      return {e.field(), e.problem()};
    }
    ADD_FAILURE() << "accepted: " << d.dump();
    return {};
  }

  fs::path dir_;
  std::string kernel_, initrd_, root_, data_;
};

TEST_F(VmConfigJson, VmmSchema) {
  const VmConfig c = vm_config_from_json(doc(R"({
    "boot-source": {"kernel_image_path": "@KERNEL@", "initrd_path": "@INITRD@",
                    "boot_args": "console=hvc0"},
    "machine-config": {"vcpu_count": 3, "mem_size_mib": 768},
    "drives": [
      {"path_on_host": "@ROOT@", "snapshot": true},
      {"drive_id": "data", "path_on_host": "@DATA@", "is_read_only": true, "serial": "DATA-1",
       "cache": "none", "queues": 4}
    ],
    "network-interfaces": [
      {"iface_id": "eth0", "host_dev_name": "tap7", "guest_mac": "02:00:00:00:00:07"},
      {"kind": "user", "host_forwards": [{"host_port": 2222, "guest_port": 22},
                                         {"host_addr": "0.0.0.0", "host_port": 8080,
                                          "guest_port": 80}]}
    ],
    "vmm": {"console": "virtio", "transport": "mmio", "kvm_device": "/dev/kvm-test"}
  })"),
                                         {});
  EXPECT_EQ(c.kernel, kernel_);
  EXPECT_EQ(c.initrd, fs::path(initrd_));
  EXPECT_EQ(c.cmdline, "console=hvc0");
  EXPECT_EQ(c.cpus, 3u);
  EXPECT_EQ(c.memory_bytes, 768ULL << 20);
  ASSERT_EQ(c.disks.size(), 2u);
  EXPECT_EQ(c.disks[0].path, root_);
  EXPECT_FALSE(c.disks[0].read_only);
  EXPECT_EQ(c.disks[0].cache, virtio::DiskCache::kWriteback);
  EXPECT_TRUE(c.disks[0].snapshot);
  EXPECT_EQ(c.disks[1].path, data_);
  EXPECT_FALSE(c.disks[1].snapshot);
  EXPECT_TRUE(c.disks[1].read_only);
  EXPECT_EQ(c.disks[1].serial, "DATA-1");
  EXPECT_EQ(c.disks[1].cache, virtio::DiskCache::kNone);
  EXPECT_EQ(c.disks[0].queues, 0u);  // one per vCPU
  EXPECT_EQ(c.disks[1].queues, 4u);
  ASSERT_EQ(c.nets.size(), 2u);
  EXPECT_EQ(c.nets[0].kind, virtio::NetConfig::Kind::kTap);
  EXPECT_EQ(c.nets[0].tap_name, "tap7");
  EXPECT_EQ(c.nets[0].mac, (virtio::MacAddress{0x02, 0, 0, 0, 0, 0x07}));
  EXPECT_EQ(c.nets[1].kind, virtio::NetConfig::Kind::kUser);
  EXPECT_FALSE(c.nets[1].mac.has_value());
  ASSERT_EQ(c.nets[1].host_forwards.size(), 2u);
  EXPECT_EQ(c.nets[1].host_forwards[0], (virtio::HostForward{"127.0.0.1", 2222, 22}));
  EXPECT_EQ(c.nets[1].host_forwards[1], (virtio::HostForward{"0.0.0.0", 8080, 80}));
  EXPECT_EQ(c.console, ConsoleKind::kVirtio);
  EXPECT_EQ(c.transport, TransportKind::kMmio);
  EXPECT_EQ(c.kvm_device, "/dev/kvm-test");
}

// A file as Firecracker's own test framework writes it (tests/framework/vm_config.json), with
// the settings vmm ignores present and null.
TEST_F(VmConfigJson, FirecrackerConfigFile) {
  const VmConfig c = vm_config_from_json(doc(R"({
    "boot-source": {
      "kernel_image_path": "@KERNEL@",
      "boot_args": "console=ttyS0 reboot=k panic=1 pci=off",
      "initrd_path": null
    },
    "drives": [
      {
        "drive_id": "rootfs",
        "partuuid": null,
        "is_root_device": true,
        "cache_type": "Unsafe",
        "is_read_only": false,
        "path_on_host": "@ROOT@",
        "io_engine": "Sync",
        "rate_limiter": null,
        "socket": null
      }
    ],
    "machine-config": {
      "vcpu_count": 2,
      "mem_size_mib": 1024,
      "smt": false,
      "track_dirty_pages": false,
      "huge_pages": "None"
    },
    "cpu-config": null,
    "balloon": null,
    "network-interfaces": [
      {"iface_id": "eth0", "guest_mac": "AA:FC:00:00:00:01", "host_dev_name": "tap0"}
    ],
    "vsock": null,
    "logger": null,
    "metrics": null,
    "mmds-config": null,
    "entropy": null
  })"),
                                         {});
  EXPECT_EQ(c.kernel, kernel_);
  EXPECT_FALSE(c.initrd.has_value());
  // The root device is named on the command line, as Firecracker does.
  EXPECT_EQ(c.cmdline, "console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda rw");
  EXPECT_EQ(c.cpus, 2u);
  EXPECT_EQ(c.memory_bytes, 1024ULL << 20);
  ASSERT_EQ(c.disks.size(), 1u);
  EXPECT_EQ(c.disks[0].path, root_);
  ASSERT_EQ(c.nets.size(), 1u);
  EXPECT_EQ(c.nets[0].kind, virtio::NetConfig::Kind::kTap);
  EXPECT_EQ(c.nets[0].tap_name, "tap0");
  EXPECT_EQ(c.nets[0].mac, (virtio::MacAddress{0xaa, 0xfc, 0, 0, 0, 0x01}));
}

TEST_F(VmConfigJson, RootDeviceComesFirst) {
  const VmConfig c = vm_config_from_json(doc(R"({
    "boot-source": {"boot_args": "console=ttyS0"},
    "drives": [
      {"drive_id": "data", "path_on_host": "@DATA@", "is_root_device": false},
      {"drive_id": "rootfs", "path_on_host": "@ROOT@", "is_root_device": true,
       "is_read_only": true, "partuuid": "0eaa91a0-01"}
    ]
  })"),
                                         {});
  ASSERT_EQ(c.disks.size(), 2u);
  EXPECT_EQ(c.disks[0].path, root_);
  EXPECT_EQ(c.disks[1].path, data_);
  EXPECT_EQ(c.cmdline, "console=ttyS0 root=PARTUUID=0eaa91a0-01 ro");
  // A root= already on the command line wins.
  const VmConfig d = vm_config_from_json(doc(R"({"boot-source": {"boot_args": "root=/dev/vdb"},
              "drives": [{"path_on_host": "@ROOT@", "is_root_device": true}]})"),
                                         {});
  EXPECT_EQ(d.cmdline, "root=/dev/vdb");
}

TEST_F(VmConfigJson, RoundTrip) {
  VmConfig c;
  c.kernel = kernel_;
  c.initrd = initrd_;
  c.cmdline = "console=hvc0 quiet";
  c.cpus = 4;
  c.memory_bytes = 1536ULL << 20;
  c.kvm_device = "/dev/kvm-other";
  virtio::BlockDeviceConfig root = disk(root_);
  root.snapshot = true;
  c.disks.push_back(root);
  virtio::BlockDeviceConfig data = disk(data_);
  data.read_only = true;
  data.serial = "SERIAL-2";
  data.cache = virtio::DiskCache::kNone;
  data.queues = 16;
  c.disks.push_back(data);
  virtio::NetConfig tap;
  tap.kind = virtio::NetConfig::Kind::kTap;
  tap.tap_name = "tap3";
  tap.bridge = "br-test";
  tap.vhost_device = "/dev/vhost-other";
  tap.queues = 4;
  tap.mac = virtio::MacAddress{0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  c.nets.push_back(tap);
  virtio::NetConfig user;
  user.kind = virtio::NetConfig::Kind::kUser;
  user.host_forwards = {{"127.0.0.1", 2222, 22}, {"10.1.2.3", 8080, 80}};
  user.mac = virtio::MacAddress{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
  c.nets.push_back(user);
  c.nets.push_back(virtio::NetConfig{});  // user, no forwards, derived MAC
  c.console = ConsoleKind::kVirtio;
  c.transport = TransportKind::kMmio;
  c.vsock = VsockConfig{.cid = 42, .socket = (dir_ / "v.sock").string()};
  c.shares.push_back(ShareConfig{.path = dir_, .tag = "hostdir", .read_only = true});

  const json j = vm_config_to_json(c);
  EXPECT_EQ(vm_config_from_json(j, {}), c) << j.dump(2);
  EXPECT_EQ(j["machine-config"]["vcpu_count"], 4);
  EXPECT_EQ(j["machine-config"]["mem_size_mib"], 1536);
  EXPECT_EQ(j["drives"][1]["path_on_host"], data_);
  EXPECT_EQ(j["drives"][0]["snapshot"], true);
  EXPECT_FALSE(j["drives"][1].contains("snapshot"));
  EXPECT_EQ(j["drives"][1]["queues"], 16);
  EXPECT_FALSE(j["drives"][0].contains("queues"));
  EXPECT_EQ(j["network-interfaces"][0]["host_dev_name"], "tap3");
  EXPECT_EQ(j["network-interfaces"][0]["bridge"], "br-test");
  EXPECT_FALSE(j["network-interfaces"][1].contains("bridge"));
  EXPECT_FALSE(j["network-interfaces"][0].contains("vhost")) << "off, no key";
  EXPECT_EQ(j["network-interfaces"][0]["vhost_device"], "/dev/vhost-other");
  EXPECT_EQ(j["network-interfaces"][0]["queues"], 4);
  EXPECT_FALSE(j["network-interfaces"][1].contains("queues"));
  EXPECT_EQ(j["network-interfaces"][0]["guest_mac"], "02:11:22:33:44:55");
  EXPECT_EQ(j["vmm"]["transport"], "mmio");
  EXPECT_EQ(j["vsock"], (json{{"cid", 42}, {"socket", (dir_ / "v.sock").string()}}));
  // Parsing text again gives the same document.
  EXPECT_EQ(json::parse(j.dump()), j);

  // vhost-net moves one queue pair.
  c.nets[0].queues = 1;
  c.nets[0].vhost = true;
  EXPECT_EQ(vm_config_from_json(vm_config_to_json(c), {}), c);
  EXPECT_EQ(vm_config_to_json(c)["network-interfaces"][0]["vhost"], true);

  // Sizes that are not whole MiB, and the defaults.
  c.memory_bytes = (256ULL << 20) + 4096;
  EXPECT_EQ(vm_config_from_json(vm_config_to_json(c), {}), c);
  EXPECT_EQ(vm_config_from_json(vm_config_to_json(VmConfig{}), {}), VmConfig{});
  EXPECT_FALSE(vm_config_to_json(VmConfig{}).contains("vsock")) << "no device, no key";
  EXPECT_FALSE(vm_config_to_json(VmConfig{}).contains("shares")) << "no share, no key";
}

TEST_F(VmConfigJson, SharesNeedAnExistingDirectoryAndATag) {
  const VmConfig c =
      vm_config_from_json(json{{"shares", json::array({{{"path", dir_}, {"tag", "t"}}})}}, {});
  ASSERT_EQ(c.shares.size(), 1U);
  EXPECT_EQ(c.shares[0].tag, "t");
  EXPECT_FALSE(c.shares[0].read_only);
  const auto field_of = [](const json& doc) {
    try {
      (void)vm_config_from_json(doc, {});
    } catch (const ConfigError& e) {
      return e.field();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(field_of({{"shares", json::array({{{"path", dir_}}})}}), "shares[0].tag");
  EXPECT_EQ(field_of({{"shares", json::array({{{"path", dir_ / "none"}, {"tag", "t"}}})}}),
            "shares[0].path");
  EXPECT_EQ(field_of({{"shares", json::array({{{"path", dir_}, {"tag", "a b"}}})}}),
            "shares[0].tag");
}

TEST_F(VmConfigJson, Vsock) {
  const std::string sock = (dir_ / "v.sock").string();
  const VmConfig c = vm_config_from_json(json{{"vsock", {{"cid", 3}, {"socket", sock}}}}, {});
  ASSERT_TRUE(c.vsock.has_value());
  EXPECT_EQ(c.vsock->cid, 3u);
  EXPECT_EQ(c.vsock->socket, sock);
  // Firecracker's names for the same thing.
  const VmConfig fc = vm_config_from_json(
      json{{"vsock", {{"vsock_id", "vsock0"}, {"guest_cid", 4294967294LL}, {"uds_path", sock}}}},
      {});
  ASSERT_TRUE(fc.vsock.has_value());
  EXPECT_EQ(fc.vsock->cid, 4294967294u);
  EXPECT_EQ(fc.vsock->socket, sock);
  // null removes the base's device.
  EXPECT_FALSE(vm_config_from_json(json{{"vsock", nullptr}}, c).vsock.has_value());
}

TEST_F(VmConfigJson, FieldsOverrideTheBase) {
  VmConfig base;
  base.kernel = kernel_;
  base.cpus = 4;
  base.disks.push_back(disk(data_));
  base.console = ConsoleKind::kVirtio;
  const VmConfig c = vm_config_from_json(json{{"machine-config", {{"mem_size_mib", 256}}}}, base);
  EXPECT_EQ(c.memory_bytes, 256ULL << 20);
  EXPECT_EQ(c.cpus, 4u);
  EXPECT_EQ(c.kernel, kernel_);
  EXPECT_EQ(c.disks.size(), 1u);
  EXPECT_EQ(c.console, ConsoleKind::kVirtio);
  // A list replaces the whole list.
  EXPECT_TRUE(vm_config_from_json(json{{"drives", json::array()}}, base).disks.empty());
  EXPECT_EQ(vm_config_from_json(json::object(), base), base);
  // A null initrd removes the base's.
  base.initrd = initrd_;
  EXPECT_FALSE(vm_config_from_json(json{{"boot-source", {{"initrd_path", nullptr}}}}, base).initrd);
}

TEST_F(VmConfigJson, ErrorsNameTheJsonPath) {
  const std::string missing = (dir_ / "missing").string();
  const struct {
    std::string text;
    std::string field;
    std::string problem;  // a part of it
  } cases[] = {
      {R"({"bogus": 1})", "bogus", "unknown field"},
      {R"({"drives": [{"path_on_host": "@ROOT@"}, {"pth_on_host": "@DATA@"}]})",
       "drives[1].pth_on_host", "unknown field"},
      {R"({"machine-config": {"vcpu_count": "2"}})", "machine-config.vcpu_count",
       "expected an integer"},
      {R"({"machine-config": {"vcpu_count": 1.5}})", "machine-config.vcpu_count",
       "expected an integer"},
      {R"({"machine-config": {"vcpu_count": -1}})", "machine-config.vcpu_count", "at least 1"},
      {R"({"machine-config": {"vcpu_count": 0}})", "machine-config.vcpu_count", "at least 1"},
      {R"({"machine-config": {"vcpu_count": 100000}})", "machine-config.vcpu_count", "at most 254"},
      {R"({"machine-config": {"mem_size_mib": 0}})", "machine-config.mem_size_mib", "at least 1"},
      {R"({"machine-config": {"mem_size_mib": 18446744073709551615}})",
       "machine-config.mem_size_mib", "at most"},
      {R"({"machine-config": {"mem_size_mib": 64, "mem_size_bytes": 65536}})",
       "machine-config.mem_size_bytes", "not both"},
      {R"({"machine-config": {"smt": "yes"}})", "machine-config.smt", "true or false"},
      {R"({"machine-config": {"cpu_template": "T2"}})", "machine-config.cpu_template",
       "not supported"},
      {R"({"machine-config": []})", "machine-config", "expected an object"},
      {R"({"cpu-config": {"cpuid_modifiers": []}})", "cpu-config", "not supported"},
      {R"({"boot-source": {"kernel_image_path": "@MISSING@"}})", "boot-source.kernel_image_path",
       "no such file"},
      {R"({"boot-source": {"initrd_path": "@MISSING@"}})", "boot-source.initrd_path",
       "no such file"},
      {R"({"boot-source": {"kernel_image_path": 7}})", "boot-source.kernel_image_path",
       "expected a string"},
      {R"({"boot-source": {"boot_args": ["a"]}})", "boot-source.boot_args", "expected a string"},
      {R"({"drives": [{"path_on_host": "@ROOT@"}, {"path_on_host": "@MISSING@"}]})",
       "drives[1].path_on_host", "no such file"},
      {R"({"drives": [{"drive_id": "rootfs"}]})", "drives[0].path_on_host", "required"},
      {R"({"drives": {"path_on_host": "@ROOT@"}})", "drives", "expected an array"},
      {R"({"drives": [{"path_on_host": "@ROOT@", "is_read_only": "no"}]})",
       "drives[0].is_read_only", "true or false"},
      {R"({"drives": [{"path_on_host": "@ROOT@", "snapshot": "on"}]})", "drives[0].snapshot",
       "true or false"},
      {R"({"drives": [{"path_on_host": "@ROOT@", "cache": "unsafe"}]})", "drives[0].cache",
       "writeback, none"},
      {R"({"drives": [{"path_on_host": "@ROOT@", "serial": "123456789012345678901"}]})",
       "drives[0].serial", "20 characters"},
      {R"({"drives": [{"socket": "/run/vhost.sock", "path_on_host": "@ROOT@"}]})",
       "drives[0].socket", "not supported"},
      {R"({"drives": [{"path_on_host": "@ROOT@", "is_root_device": true},
                      {"path_on_host": "@DATA@", "is_root_device": true}]})",
       "drives[1].is_root_device", "only one"},
      {R"({"network-interfaces": [{"host_dev_name": "tap0", "vhost": "on"}]})",
       "network-interfaces[0].vhost", "expected"},
      {R"({"network-interfaces": [{"kind": "user", "vhost": true}]})",
       "network-interfaces[0].vhost", "needs a tap interface"},
      {R"({"network-interfaces": [{"iface_id": "eth0"}]})", "network-interfaces[0].host_dev_name",
       "required"},
      {R"({"network-interfaces": [{"host_dev_name": "tap0", "guest_mac": "02:00:00:00:00"}]})",
       "network-interfaces[0].guest_mac", "XX:XX"},
      {R"({"network-interfaces": [{"host_dev_name": "tap0", "guest_mac": "01:00:00:00:00:01"}]})",
       "network-interfaces[0].guest_mac", "multicast"},
      {R"({"network-interfaces": [{"host_dev_name": "a-very-long-tap-name"}]})",
       "network-interfaces[0].host_dev_name", "15 characters"},
      {R"({"network-interfaces": [{"host_dev_name": "tap0", "host_forwards": []}]})",
       "network-interfaces[0].host_forwards", "user"},
      {R"({"network-interfaces": [{"kind": "user", "host_dev_name": "tap0"}]})",
       "network-interfaces[0].host_dev_name", "not used"},
      {R"({"network-interfaces": [{"kind": "user", "bridge": "br0"}]})",
       "network-interfaces[0].bridge", "needs a tap"},
      {R"({"network-interfaces": [{"host_dev_name": "tap0", "bridge": "a-very-long-bridge"}]})",
       "network-interfaces[0].bridge", "not a valid interface name"},
      {R"({"network-interfaces": [{"kind": "user", "queues": 2}]})", "network-interfaces[0].queues",
       "needs a tap"},
      {R"({"network-interfaces": [{"host_dev_name": "tap0", "vhost": true, "queues": 2}]})",
       "network-interfaces[0].queues", "one queue pair"},
      {R"({"network-interfaces": [{"host_dev_name": "tap0", "queues": 0}]})",
       "network-interfaces[0].queues", "at least 1"},
      {R"({"network-interfaces": [{"host_dev_name": "tap0", "queues": 17}]})",
       "network-interfaces[0].queues", "at most 16"},
      {R"({"network-interfaces": [{"kind": "bridge"}]})", "network-interfaces[0].kind",
       "tap, user"},
      {R"({"network-interfaces": [{"kind": "user",
           "host_forwards": [{"host_port": 80, "guest_port": 80}, {"host_port": 70000,
                                                                  "guest_port": 1}]}]})",
       "network-interfaces[0].host_forwards[1].host_port", "at most 65535"},
      {R"({"network-interfaces": [{"kind": "user", "host_forwards": [{"host_port": 80}]}]})",
       "network-interfaces[0].host_forwards[0].guest_port", "required"},
      {R"({"network-interfaces": [{"kind": "user",
           "host_forwards": [{"host_addr": "localhost", "host_port": 1, "guest_port": 1}]}]})",
       "network-interfaces[0].host_forwards[0].host_addr", "IPv4"},
      {R"({"vmm": {"console": "hvc"}})", "vmm.console", "serial, virtio"},
      {R"({"vmm": {"transport": 1}})", "vmm.transport", "expected a string"},
      {R"({"vmm": {"kvm": "/dev/kvm"}})", "vmm.kvm", "unknown field"},
      {R"({"vsock": {"cid": 2, "socket": "@DATA@.sock"}})", "vsock.cid", "at least 3"},
      {R"({"vsock": {"cid": 0, "socket": "@DATA@.sock"}})", "vsock.cid", "reserved"},
      {R"({"vsock": {"cid": -3, "socket": "@DATA@.sock"}})", "vsock.cid", "at least 3"},
      {R"({"vsock": {"cid": 4294967295, "socket": "@DATA@.sock"}})", "vsock.cid", "at most"},
      {R"({"vsock": {"cid": 18446744073709551615, "socket": "@DATA@.sock"}})", "vsock.cid",
       "at most"},
      {R"({"vsock": {"cid": "3", "socket": "@DATA@.sock"}})", "vsock.cid", "expected an integer"},
      {R"({"vsock": {"socket": "@DATA@.sock"}})", "vsock.cid", "required"},
      {R"({"vsock": {"cid": 3}})", "vsock.socket", "required"},
      {R"({"vsock": {"cid": 3, "socket": ""}})", "vsock.socket", "must not be empty"},
      {R"({"vsock": {"cid": 3, "socket": "@MISSING@/v.sock"}})", "vsock.socket", "does not exist"},
      {R"({"vsock": {"cid": 3, "socket": "/tmp/@LONG@"}})", "vsock.socket", "longer than"},
      {R"({"vsock": {"cid": 3, "guest_cid": 4, "socket": "@DATA@.sock"}})", "vsock.guest_cid",
       "given twice"},
      {R"({"vsock": {"cid": 3, "socket": "@DATA@.sock", "port": 1}})", "vsock.port",
       "unknown field"},
      {R"({"vsock": 3})", "vsock", "expected an object"},
      {R"([1, 2])", "config", "JSON object"},
  };
  for (const auto& c : cases) {
    std::string text = c.text;
    for (size_t pos; (pos = text.find("@MISSING@")) != std::string::npos;) {
      text.replace(pos, 9, missing);
    }
    for (size_t pos; (pos = text.find("@LONG@")) != std::string::npos;) {
      text.replace(pos, 6, std::string(120, 'v'));
    }
    const auto [field, problem] = error_of(doc(text));
    EXPECT_EQ(field, c.field) << c.text;
    EXPECT_NE(problem.find(c.problem), std::string::npos) << c.text << ": " << problem;
  }
}

TEST_F(VmConfigJson, IgnoredFirecrackerKeysAreAccepted) {
  const VmConfig c = vm_config_from_json(doc(R"({
    "logger": {"log_path": "/tmp/fc.log", "level": "Debug"},
    "metrics": {"metrics_path": "/tmp/fc.metrics"},
    "balloon": {"amount_mib": 0, "deflate_on_oom": false},
    "mmds-config": {"network_interfaces": ["eth0"]},
    "machine-config": {"vcpu_count": 1, "mem_size_mib": 128, "smt": true,
                       "track_dirty_pages": true, "cpu_template": "None"},
    "drives": [{"drive_id": "rootfs", "path_on_host": "@ROOT@", "is_root_device": false,
                "rate_limiter": {"bandwidth": {"size": 1, "refill_time": 1}},
                "io_engine": "Async", "cache_type": "Writeback"}],
    "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                            "rx_rate_limiter": null, "tx_rate_limiter": {}}]
  })"),
                                         {});
  EXPECT_EQ(c.memory_bytes, 128ULL << 20);
  EXPECT_EQ(c.disks.size(), 1u);
  EXPECT_EQ(c.nets.size(), 1u);
}

TEST_F(VmConfigJson, LoadFile) {
  const fs::path file = dir_ / "vm.json";
  std::ofstream(file) << doc(R"({"boot-source": {"kernel_image_path": "@KERNEL@"},
                                  "machine-config": {"vcpu_count": 2}})")
                             .dump();
  const VmConfig c = load_vm_config_file(file, {});
  EXPECT_EQ(c.kernel, kernel_);
  EXPECT_EQ(c.cpus, 2u);
}

TEST_F(VmConfigJson, BadFilesNameTheFile) {
  const fs::path bad = dir_ / "bad.json";
  std::ofstream(bad) << "{\n  \"machine-config\": {\"vcpu_count\": 2,}\n}\n";
  try {
    (void)load_vm_config_file(bad, {});
    ADD_FAILURE() << "bad JSON accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), bad.string());
    EXPECT_NE(e.problem().find("line 2"), std::string::npos) << e.problem();
    EXPECT_EQ(e.problem().find("json.exception"), std::string::npos) << e.problem();
  }
  const fs::path huge = dir_ / "huge.json";
  std::ofstream(huge) << R"({"machine-config": {"vcpu_count": 1e999}})";
  try {
    (void)load_vm_config_file(huge, {});
    ADD_FAILURE() << "a number JSON cannot hold was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), huge.string());
  }
  for (const fs::path& p : {dir_ / "missing.json", dir_}) {
    try {
      (void)load_vm_config_file(p, {});
      ADD_FAILURE() << p << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), p.string());
    }
  }
}

TEST(VmConfigJsonUuid, ParsedNormalizedRoundTrippedAndRefusedWhenMalformed) {
  const nlohmann::json doc = {{"vmm", {{"uuid", "6A1B1E7E-7A64-4E8A-9A7E-0123456789AB"}}}};
  const VmConfig c = vm_config_from_json(doc, {});
  EXPECT_EQ(c.uuid, "6a1b1e7e-7a64-4e8a-9a7e-0123456789ab");
  EXPECT_EQ(vm_config_to_json(c)["vmm"]["uuid"], c.uuid);
  EXPECT_EQ(vm_config_from_json(vm_config_to_json(c), {}), c);
  EXPECT_FALSE(vm_config_to_json(VmConfig{})["vmm"].contains("uuid"));
  try {
    (void)vm_config_from_json({{"vmm", {{"uuid", "not-a-uuid"}}}}, {});
    ADD_FAILURE() << "a malformed uuid was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "vmm.uuid");
  }
}

TEST(VmConfigJsonAgent, ParsedPrintedOnlyWhenOnAndRefusedWhenNotABool) {
  const VmConfig c = vm_config_from_json({{"vmm", {{"agent", true}}}}, {});
  EXPECT_TRUE(c.agent);
  EXPECT_EQ(vm_config_to_json(c)["vmm"]["agent"], true);
  EXPECT_EQ(vm_config_from_json(vm_config_to_json(c), {}), c);
  EXPECT_FALSE(vm_config_from_json({{"vmm", {{"agent", false}}}}, c).agent);
  EXPECT_FALSE(vm_config_to_json(VmConfig{})["vmm"].contains("agent"));
  try {
    (void)vm_config_from_json({{"vmm", {{"agent", "yes"}}}}, {});
    ADD_FAILURE() << "a string was accepted as agent";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "vmm.agent");
  }
}

}  // namespace
}  // namespace vmm
