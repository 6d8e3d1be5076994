#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>

#include <string>

#include "container/oci_config.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

std::string minimal(const std::string& extra = "", const std::string& linux_extra = "") {
  return R"({"ociVersion":"1.2.0","root":{"path":"rootfs"},
    "process":{"args":["sh"],"cwd":"/"},
    "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"uts"},{"type":"ipc"},
             {"type":"network"}])" +
         linux_extra + "}" + extra + "}";
}

std::string error_of(const std::string& json) {
  try {
    (void)parse_config(json);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ContainerOciConfig, ParsesAFullConfig) {
  const std::string json = R"({
    "ociVersion": "1.1.0",
    "root": {"path": "/srv/root", "readonly": true},
    "hostname": "box",
    "process": {
      "terminal": true, "consoleSize": {"height": 24, "width": 80},
      "args": ["/bin/sh", "-c", "true"], "env": ["PATH=/bin", "A=b=c"], "cwd": "/tmp",
      "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 18},
      "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                       "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": []},
      "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
      "noNewPrivileges": true, "oomScoreAdj": -500
    },
    "mounts": [{"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}],
    "hooks": {"prestart": [{"path": "/usr/bin/hook", "args": ["hook", "x"], "env": ["K=V"], "timeout": 5}],
              "poststop": [{"path": "/usr/bin/cleanup"}]},
    "linux": {
      "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/x"}, {"type": "uts"},
                     {"type": "ipc"}, {"type": "mount"}, {"type": "user"}, {"type": "cgroup"}],
      "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "resources": {"memory": {"limit": 67108864, "swap": 134217728},
                    "cpu": {"quota": 50000, "period": 100000, "shares": 512},
                    "pids": {"limit": 64},
                    "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]},
      "cgroupsPath": "/mine/box",
      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}],
      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
      "sysctl": {"kernel.shmmax": "1000"},
      "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                  "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}
    },
    "annotations": {"org.example": "yes"}
  })";
  const Spec s = parse_config(json);
  EXPECT_EQ(s.root_path, "/srv/root");
  EXPECT_TRUE(s.root_readonly);
  EXPECT_EQ(s.hostname, "box");
  EXPECT_TRUE(s.process.terminal);
  EXPECT_EQ(s.process.console_width, 80);
  ASSERT_EQ(s.process.args.size(), 3U);
  EXPECT_EQ(s.process.cwd, "/tmp");
  EXPECT_EQ(s.process.user.uid, 1000U);
  EXPECT_EQ(s.process.user.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(s.process.capabilities.bounding.size(), 2U);
  ASSERT_EQ(s.process.rlimits.size(), 1U);
  EXPECT_EQ(s.process.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(s.process.rlimits[0].hard, 200U);
  EXPECT_EQ(s.process.oom_score_adj, -500);
  ASSERT_EQ(s.mounts.size(), 1U);
  EXPECT_EQ(s.mounts[0].options[0], "rbind");
  ASSERT_EQ(s.hooks.prestart.size(), 1U);
  EXPECT_EQ(s.hooks.prestart[0].timeout_s, 5);
  EXPECT_EQ(s.hooks.poststop.size(), 1U);
  EXPECT_TRUE(s.has_new_namespace(CLONE_NEWPID));
  EXPECT_FALSE(s.has_new_namespace(CLONE_NEWNET));
  ASSERT_NE(s.find_namespace(CLONE_NEWNET), nullptr);
  EXPECT_EQ(s.find_namespace(CLONE_NEWNET)->path, "/var/run/netns/x");
  EXPECT_EQ(s.linux_config.uid_mappings[0].host_id, 100000U);
  EXPECT_EQ(s.linux_config.resources.memory_limit, 67108864);
  EXPECT_EQ(s.linux_config.resources.cpu_quota, 50000);
  EXPECT_EQ(s.linux_config.resources.pids_limit, 64);
  ASSERT_EQ(s.linux_config.resources.devices.size(), 2U);
  EXPECT_FALSE(s.linux_config.resources.devices[1].minor == std::nullopt);
  EXPECT_EQ(s.linux_config.devices[0].file_mode, 0666U);
  EXPECT_EQ(s.linux_config.sysctl.count("kernel.shmmax"), 1U);
  ASSERT_TRUE(s.linux_config.seccomp.has_value());
  EXPECT_EQ(s.linux_config.seccomp->syscalls[0].errno_ret, 1U);
  EXPECT_EQ(s.annotations.at("org.example"), "yes");
}

TEST(ContainerOciConfig, RejectsNetSysctlWithoutOwnNetworkNamespace) {
  const std::string json =
      R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/"},
    "linux":{"namespaces":[{"type":"mount"}],"sysctl":{"net.ipv4.ip_forward":"1"}}})";
  EXPECT_NE(error_of(json).find("linux.sysctl.net.ipv4.ip_forward"), std::string::npos);
  EXPECT_NE(
      error_of(minimal("", R"(,"sysctl":{"kernel.domainname":"x","vm.overcommit_memory":"1"})"))
          .find("vm.overcommit"),
      std::string::npos);
}

TEST(ContainerOciConfig, MalformedDocumentsNameTheProblem) {
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(
      error_of(R"({"root":{"path":"r"},"process":{"args":["a"],"cwd":"/"}})").find("ociVersion"),
      std::string::npos);
  EXPECT_NE(
      error_of(R"({"ociVersion":"2.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/"}})")
          .find("unsupported version"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"ociVersion":"1.0.0","process":{"args":["a"],"cwd":"/"}})").find("root"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":[],"cwd":"/"}})")
          .find("process.args"),
      std::string::npos);
  EXPECT_NE(
      error_of(R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"rel"}})")
          .find("process.cwd: must be an absolute path"),
      std::string::npos);
  EXPECT_NE(
      error_of(
          R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/","env":["NOEQUALS"]}})")
          .find("KEY=VALUE"),
      std::string::npos);
  EXPECT_NE(
      error_of(R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":[1],"cwd":"/"}})")
          .find("process.args[0]: must be a string"),
      std::string::npos);
}

TEST(ContainerOciConfig, RejectsUnknownAndDuplicateNamespaces) {
  const std::string bad =
      R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/"},
    "linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}})";
  EXPECT_NE(error_of(bad).find("unknown namespace type 'bogus'"), std::string::npos);
  const std::string dup =
      R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/"},
    "linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}})";
  EXPECT_NE(error_of(dup).find("listed twice"), std::string::npos);
}

TEST(ContainerOciConfig, RejectsBadValues) {
  EXPECT_NE(
      error_of(minimal("", R"(,"resources":{"memory":{"limit":"lots"}})")).find("memory.limit"),
      std::string::npos);
  EXPECT_NE(
      error_of(minimal("", R"(,"resources":{"memory":{"limit":100,"swap":50}})")).find("swap"),
      std::string::npos);
  EXPECT_NE(error_of(minimal("", R"(,"resources":{"cpu":{"period":10}})")).find("cpu.period"),
            std::string::npos);
  EXPECT_NE(error_of(minimal("", R"(,"cgroupsPath":"../../escape")")).find("'..'"),
            std::string::npos);
  EXPECT_NE(
      error_of(minimal("", R"(,"devices":[{"path":"dev/null","type":"c","major":1,"minor":3}])"))
          .find("must be an absolute path"),
      std::string::npos);
  EXPECT_NE(error_of(minimal("", R"(,"uidMappings":[{"containerID":0,"hostID":1,"size":1}])"))
                .find("user namespace"),
            std::string::npos);
  EXPECT_NE(error_of(minimal(R"(,"hooks":{"prestart":[{"path":"relative"}]})")).find("absolute"),
            std::string::npos);
  EXPECT_NE(error_of(minimal(R"(,"mounts":[{"destination":"relative"}])")).find("absolute"),
            std::string::npos);
  const std::string caps =
      R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/",
    "capabilities":{"bounding":["CAP_FLY"]}}})";
  EXPECT_NE(error_of(caps).find("unknown capability 'CAP_FLY'"), std::string::npos);
  const std::string rl =
      R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/",
    "rlimits":[{"type":"RLIMIT_NOFILE","soft":10,"hard":5}]}})";
  EXPECT_NE(error_of(rl).find("soft limit exceeds"), std::string::npos);
  const std::string oom =
      R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/","oomScoreAdj":5000}})";
  EXPECT_NE(error_of(oom).find("oomScoreAdj"), std::string::npos);
}

TEST(ContainerOciConfig, HostnameNeedsUtsNamespace) {
  const std::string json = R"({"ociVersion":"1.0.0","root":{"path":"r"},"hostname":"x",
    "process":{"args":["a"],"cwd":"/"},"linux":{"namespaces":[{"type":"pid"}]}})";
  EXPECT_NE(error_of(json).find("uts"), std::string::npos);
}

TEST(ContainerOciConfig, ProcessJsonForExec) {
  const Process p = parse_process_json(R"({"args":["ls","-l"],"cwd":"/","terminal":true})");
  EXPECT_EQ(p.args[1], "-l");
  EXPECT_TRUE(p.terminal);
  EXPECT_THROW((void)parse_process_json("{\"cwd\":\"/\"}"), ConfigError);
}

}  // namespace
}  // namespace vmm::container
