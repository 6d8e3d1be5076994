#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "vmm/common/error.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/net_factory.hpp"
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
    const std::array<iovec, 1> segments{iovec{buf.data(), buf.size()}};
    EXPECT_EQ(tap.receive(segments), 0u);
  }
  EXPECT_EQ(::if_nametoindex(name), 0u);
}

// Runs `check` in a child in a network namespace of its own (so the host's interfaces are
// untouched, and nothing is left behind if it fails); returns what it reported, "" for success.
std::string in_own_network_namespace(const std::function<std::string()>& check) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::string problem;
    try {
      // A sysfs of the new namespace's own, in a mount namespace of the child's own.
      if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0 ||
          ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          ::mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) {
        problem = "cannot make a network namespace with its own sysfs";
      } else {
        problem = check();
      }
    } catch (const std::exception& e) {
      problem = std::string("threw: ") + e.what();
    }
    [[maybe_unused]] const auto n = ::write(pipe_fds[1], problem.data(), problem.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string problem;
  char buf[256];
  for (ssize_t n = 0; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) {
    problem.append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "the child died";
  return problem;
}

std::string master_of(const std::string& name) {
  std::error_code ec;
  return std::filesystem::read_symlink("/sys/class/net/" + name + "/master", ec)
      .filename()
      .string();
}

TEST(TapBackend, BridgeOptionBringsTheTapUpAsAPortOfTheBridge) {
  if (!can_create_taps()) GTEST_SKIP() << "needs root and /dev/net/tun";
  const std::string problem = in_own_network_namespace([]() -> std::string {
    if (std::system("ip link add vmmtestbr0 type bridge 2>/dev/null") != 0) {
      return "cannot create a bridge (no bridge module?)";
    }
    {
      TapBackend tap("vmmtesttap0", "vmmtestbr0");
      if (master_of("vmmtesttap0") != "vmmtestbr0") return "the TAP is not a port of the bridge";
      std::ifstream flags("/sys/class/net/vmmtesttap0/flags");
      unsigned value = 0;
      flags >> std::hex >> value;
      if ((value & IFF_UP) == 0) return "the TAP is not up";
      // A TAP made beforehand and a port of the bridge already: attaching to it is fine.
      if (std::system("ip tuntap add dev vmmtestprst0 mode tap && "
                      "ip link set vmmtestprst0 master vmmtestbr0") != 0) {
        return "cannot make a persistent TAP";
      }
      TapBackend again("vmmtestprst0", "vmmtestbr0");
      if (master_of("vmmtestprst0") != "vmmtestbr0") return "the second TAP is not a port";
    }
    if (::if_nametoindex("vmmtesttap0") != 0) return "the TAP outlived its backend";
    try {
      TapBackend lost("vmmtesttap1", "vmmnosuchbr");
      return "a missing bridge was accepted";
    } catch (const ConfigError& e) {
      if (std::string(e.what()).find("vmmnosuchbr") == std::string::npos) {
        return std::string("the error does not name the bridge: ") + e.what();
      }
    }
    try {
      TapBackend not_bridge("vmmtesttap2", "lo");
      return "lo was accepted as a bridge";
    } catch (const ConfigError& e) {
      if (std::string(e.what()).find("cannot add the TAP") == std::string::npos) {
        return std::string("unexpected error: ") + e.what();
      }
    }
    // Nothing half-made: the TAPs of the refused attempts are gone.
    if (::if_nametoindex("vmmtesttap1") != 0 || ::if_nametoindex("vmmtesttap2") != 0) {
      return "a refused TAP was left behind";
    }
    return "";
  });
  EXPECT_EQ(problem, "");
}

// The TAP's transmit queues in sysfs: one per attached queue.
int tap_tx_queues(const std::string& name) {
  int n = 0;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/sys/class/net/" + name + "/queues", ec)) {
    if (e.path().filename().string().rfind("tx-", 0) == 0) ++n;
  }
  return n;
}

TEST(TapBackend, MultiQueueTapQueuesDetachAndAttach) {
  if (!can_create_taps()) GTEST_SKIP() << "needs root and /dev/net/tun";
  const std::string name = "vmmnetmq0";
  {
    TapBackend q0(name, {}, /*multi_queue=*/true);
    TapBackend q1(name, {}, /*multi_queue=*/true);
    EXPECT_EQ(tap_tx_queues(name), 2);
    q1.set_queue_active(false);
    EXPECT_EQ(tap_tx_queues(name), 1);
    q1.set_queue_active(false);  // idempotent
    q1.set_queue_active(true);
    EXPECT_EQ(tap_tx_queues(name), 2);
    q0.set_queue_active(true);  // attached already: nothing to do
    EXPECT_EQ(tap_tx_queues(name), 2);
    // A single-queue attach to the multi-queue TAP is refused.
    EXPECT_THROW(TapBackend tap(name), ConfigError);
  }
  EXPECT_EQ(::if_nametoindex(name.c_str()), 0u);
}

TEST(TapBackend, QueuesOnASingleQueueTapSaysWhy) {
  if (!can_create_taps()) GTEST_SKIP() << "needs root and /dev/net/tun";
  const std::string name = "vmmnetmq1";
  const TapBackend single(name);
  try {
    const TapBackend tap(name, {}, /*multi_queue=*/true);
    ADD_FAILURE() << "a multi-queue attach to a single-queue TAP succeeded";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("multi_queue"), std::string::npos) << e.what();
  }
}

// Without queues=, a TAP NIC gets one queue pair per vCPU; a TAP made beforehand without
// multi_queue gets one pair instead of failing the VM, unless the user asked for several.
TEST(TapBackend, AnUnsizedNicTakesOnePairPerVcpuOrOneOnASingleQueueTap) {
  if (!can_create_taps()) GTEST_SKIP() << "needs root and /dev/net/tun";
  const std::string problem = in_own_network_namespace([]() -> std::string {
    EventLoop loop;
    NetConfig config;
    config.kind = NetConfig::Kind::kTap;
    config.tap_name = "vmmnetauto0";
    {
      auto device = make_net_device(config, loop, 0, /*vcpus=*/3);
      const auto* net = dynamic_cast<const VirtioNet*>(device.get());
      if (net == nullptr) return "not a VirtioNet";
      if (net->max_queue_pairs() != 3) {
        return "3 vCPUs gave " + std::to_string(net->max_queue_pairs()) + " pairs";
      }
      if (tap_tx_queues("vmmnetauto0") != 3) return "the TAP does not have 3 queues";
    }
    if (std::system("ip tuntap add dev vmmnetsq0 mode tap") != 0) {
      return "cannot make a persistent TAP";
    }
    config.tap_name = "vmmnetsq0";
    {
      auto device = make_net_device(config, loop, 0, /*vcpus=*/4);
      const auto* net = dynamic_cast<const VirtioNet*>(device.get());
      if (net == nullptr || net->max_queue_pairs() != 1) {
        return "a single-queue TAP did not get one pair";
      }
    }
    config.queues = 2;
    try {
      (void)make_net_device(config, loop, 0, /*vcpus=*/4);
      return "queues=2 on a single-queue TAP was accepted";
    } catch (const ConfigError& e) {
      if (std::string(e.what()).find("multi_queue") == std::string::npos) {
        return std::string("the error does not say why: ") + e.what();
      }
    }
    return "";
  });
  EXPECT_EQ(problem, "");
}

TEST(TapBackend, BadNameIsAConfigError) {
  EXPECT_THROW(TapBackend("this-name-is-far-too-long"), ConfigError);
}

}  // namespace
}  // namespace vmm::virtio
