// End-to-end tests of virtio-net: the real vmm boots Debian's stock kernel with the root-on-disk
// initramfs (firmware/build-rootfs-initramfs.sh loads virtio_net) and the busybox test root
// (firmware/build-test-rootfs.sh), whose init (firmware/rootfs-init.sh) runs the network actions
// named on the kernel command line and prints `VMMTEST:` markers; the host side of each exchange
// is run here, by the test process itself.
//
// One boot per backend, because a boot costs 15-25 s in the sandbox:
//   tap:  four TAP devices this test creates (vmmtap0 192.168.200.1/24 ... vmmtap3
//         192.168.203.1/24) and deletes again, two vCPUs; the guest takes .2 on each NIC (found
//         by the MAC given with mac=) and pings every host address. Over the user-space data
//         path it sends 64 MiB to a TCP sink here (vmmtap0, made without multi_queue: the
//         default of a pair per vCPU falls back to one) and fetches 64 MiB
//         from an HTTP server here (vmmtap3, a multi-queue TAP used with queues=2, so the guest
//         enables both pairs); then it sends 64 MiB and fetches 16 MiB over vhost-net (vmmtap1,
//         vhost=on); both sides compare sha256. vmmtap2 asks for vhost-net at a device node that
//         does not exist: one warning, and the NIC still works over the user-space path.
//   user: libslirp NAT; the guest gets its address by DHCP, fetches a file from a server on the
//         host's 127.0.0.1 (10.0.2.2 from the guest) and serves a token with httpd, which a
//         client here reaches through a hostfwd port on 127.0.0.1.
// Bad --net arguments are checked without booting (NetCli; no KVM needed).
// The console and vmm's log of each boot go to VMM_KVM_LOG_DIR/NetScenario_<backend>.log.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "host_network_helpers.hpp"
#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kBulkBytes = 64 * kMiB;        // each way over the TAP
constexpr uint64_t kVhostFetchBytes = 16 * kMiB;  // host -> guest over vhost-net
constexpr uint64_t kUserFileBytes = 4 * kMiB;

// Locally administered unicast addresses for the two NICs of the TAP boot.
constexpr const char* kMac0 = "52:54:00:12:34:01";
constexpr const char* kMac1 = "52:54:00:12:34:02";
constexpr const char* kMac2 = "52:54:00:12:34:03";
constexpr const char* kMac3 = "52:54:00:12:34:04";

// Serves one file for any GET (HTTP/1.0, then close): what busybox wget in the guest fetches.
class HttpFileServer final : public HostServer {
 public:
  HttpFileServer(const std::string& addr, fs::path file)
      : HostServer(addr, 0), file_(std::move(file)) {
    start([this](int fd) {
      std::string request;
      std::array<char, 4096> buf{};
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536 && !stop_) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) return;
        request.append(buf.data(), static_cast<size_t>(n));
      }
      // A transfer that stalls must end the scenario (with its log), not block the server.
      const timeval send_timeout{30, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
      const uint64_t size = fs::file_size(file_);
      const std::string head =
          "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
          "Content-Length: " +
          std::to_string(size) + "\r\nConnection: close\r\n\r\n";
      if (!send_all(fd, head.data(), head.size())) return;
      std::ifstream in(file_, std::ios::binary);
      std::vector<char> chunk(256 * 1024);
      while (in) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        const auto got = static_cast<size_t>(in.gcount());
        if (got == 0 || !send_all(fd, chunk.data(), got)) break;
      }
      ++served_;
    });
  }
  ~HttpFileServer() override { stop(); }
  [[nodiscard]] int served() const { return served_; }

 private:
  fs::path file_;
  std::atomic<int> served_{0};
};

// GET http://addr:port/path from the host; the body, or nullopt when no complete answer came.
std::optional<std::string> http_get(const std::string& addr, uint16_t port, const std::string& path,
                                    Clock::time_point deadline) {
  UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    return std::nullopt;
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + addr + "\r\n\r\n";
  if (!send_all(fd.get(), request.data(), request.size())) return std::nullopt;
  std::string reply;
  std::array<char, 4096> buf{};
  while (Clock::now() < deadline) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    reply.append(buf.data(), static_cast<size_t>(n));
  }
  const auto body = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.", 0) != 0 || reply.find(" 200 ") == std::string::npos ||
      body == std::string::npos) {
    return std::nullopt;
  }
  return reply.substr(body + 4);
}

// A free TCP port on 127.0.0.1 for a hostfwd rule (bound and released: a tiny race, no more).
uint16_t free_loopback_port() { return local_port(listen_on("127.0.0.1", 0)); }

// Whether some thread on the host is called `comm` (/proc/PID/task/TID/comm).
bool thread_named(const std::string& comm) {
  std::error_code ec;
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    std::error_code task_ec;
    for (const auto& task : fs::directory_iterator(proc.path() / "task", task_ec)) {
      std::string name;
      std::getline(std::ifstream(task.path() / "comm"), name);
      if (name == comm) return true;
    }
  }
  return false;
}

enum class Backend { kTap, kUser };
std::string backend_name(Backend b) { return b == Backend::kTap ? "tap" : "user"; }

// Everything one boot produced, for the tests to check.
struct NetResult {
  std::string problem;
  std::string console;
  std::string vmm_log;
  std::string log_path;
  std::optional<ExitStatus> vmm_status;
  // tap
  std::string host_file_sha256;  // what the guest fetches
  std::string sink_sha256;       // what the guest sent
  uint64_t sink_bytes = 0;
  std::string vhost_file_sha256;  // what the guest fetches over vhost-net
  std::string vhost_sink_sha256;  // what the guest sent over vhost-net
  uint64_t vhost_sink_bytes = 0;
  bool vhost_worker_seen = false;  // vhost's "vhost-PID" worker ran while the guest did
  bool taps_removed = false;
  // user
  std::string token;
  std::optional<std::string> hostfwd_body;
  int fetches_served = 0;

  [[nodiscard]] std::optional<std::string> mark(const std::string& key) const {
    return marker(console, key);
  }
  // The first `key` marker after the `after` marker (for actions the guest runs twice).
  [[nodiscard]] std::optional<std::string> mark_after(const std::string& after,
                                                      const std::string& key) const {
    const size_t at = console.find("VMMTEST: " + after + "=");
    if (at == std::string::npos) return std::nullopt;
    return marker(console.substr(at), key);
  }
};

class NetScenario {
 public:
  explicit NetScenario(Backend backend) : backend_(backend) {}

  NetResult run() {
    NetResult r;
    try {
      if (backend_ == Backend::kTap) {
        run_tap(r);
      } else {
        run_user(r);
      }
    } catch (const std::exception& e) {
      r.problem = std::string("scenario aborted: ") + e.what();
    }
    collect(r);
    if (backend_ == Backend::kTap) {
      r.taps_removed = !interface_exists("vmmtap0") && !interface_exists("vmmtap1") &&
                       !interface_exists("vmmtap2") && !interface_exists("vmmtap3");
    }
    std::error_code ec;
    fs::remove_all(scratch_, ec);
    save_log(r);
    if (!r.problem.empty()) {
      std::fprintf(stderr, "--- net %s scenario failed: %s\n--- console ---\n%s\n--- vmm ---\n%s\n",
                   backend_name(backend_).c_str(), r.problem.c_str(), r.console.c_str(),
                   r.vmm_log.c_str());
    }
    return r;
  }

 private:
  // Checks the environment and prepares a scratch copy of the root image; false: r.problem set.
  bool prepare(NetResult& r) {
    r.problem = kvm_environment_problem();
    if (!r.problem.empty()) return false;
    const std::string cache = cache_dir();
    initrd_ = env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz");
    const std::string rootfs = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
    for (const auto& [path, how] : {std::pair{initrd_, "firmware/build-rootfs-initramfs.sh"},
                                    std::pair{rootfs, "firmware/build-test-rootfs.sh"}}) {
      if (::access(path.c_str(), R_OK) != 0) {
        r.problem = "missing " + path + " (built by " + how + "; the kvm_assets test runs it)";
        return false;
      }
    }
    // Bulk data lives in the sandbox's RAM-backed /tmp, not on the 9p-shared build directory.
    scratch_ = fs::temp_directory_path() /
               ("vmm-net-test-" + backend_name(backend_) + "-" + std::to_string(::getpid()));
    fs::remove_all(scratch_);
    fs::create_directories(scratch_);
    root_img_ = scratch_ / "root.ext4";
    fs::copy_file(rootfs, root_img_, fs::copy_options::overwrite_existing);
    return true;
  }

  std::vector<std::string> vmm_argv(const std::string& actions, const std::string& extra,
                                    const std::string& cpus = "1") const {
    const KvmTestEnv& env = KvmTestEnv::get();
    std::string cmdline =
        "console=ttyS0 reboot=k panic=-1 quiet pci=noearly root=/dev/vda rootfstype=ext4 rw "
        "rootwait "
        "rd.emergency=reboot vmmtest=" +
        actions;
    if (!extra.empty()) cmdline += " " + extra;
    if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
    return {env.vmm_bin, "run",       "--kernel", env.kernel,        "--initrd",
            initrd_,     "--cmdline", cmdline,    "--cpus",          cpus,
            "--memory",  "512M",      "--disk",   root_img_.string()};
  }

  void spawn(std::vector<std::string> argv) {
    for (const auto& a : argv) {
      command_line_ += (command_line_.empty() ? "" : " ") +
                       (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
    }
    vm_.emplace(Subprocess::spawn(argv));
  }

  void run_tap(NetResult& r) {
    if (!prepare(r)) return;
    const auto deadline = Clock::now() + 2 * KvmTestEnv::get().test_limit;
    ScopedTap tap0("vmmtap0", "192.168.200.1/24");
    ScopedTap tap1("vmmtap1", "192.168.201.1/24");
    ScopedTap tap2("vmmtap2", "192.168.202.1/24");
    ScopedTap tap3("vmmtap3", "192.168.203.1/24", /*multi_queue=*/true);

    const fs::path host_file = scratch_ / "to-guest.data";
    write_random_file(host_file, kBulkBytes, static_cast<uint64_t>(::getpid()));
    r.host_file_sha256 = sha256_file(host_file);
    const fs::path sink_file = scratch_ / "from-guest.data";
    TcpSink sink("192.168.200.1", sink_file);
    HttpFileServer http("192.168.203.1", host_file);
    const fs::path vhost_sink_file = scratch_ / "from-guest-vhost.data";
    TcpSink vhost_sink("192.168.201.1", vhost_sink_file);
    const fs::path vhost_file = scratch_ / "to-guest-vhost.data";
    write_random_file(vhost_file, kVhostFetchBytes, static_cast<uint64_t>(::getpid()) + 2);
    r.vhost_file_sha256 = sha256_file(vhost_file);
    HttpFileServer vhost_http("192.168.201.1", vhost_file);

    const std::string actions =
        std::string("netinfo,ipaddr:") + kMac0 + "=192.168.200.2/24" + ",ipaddr:" + kMac1 +
        "=192.168.201.2/24" + ",ipaddr:" + kMac2 + "=192.168.202.2/24" + ",ipaddr:" + kMac3 +
        "=192.168.203.2/24" + ",ping:192.168.200.1,ping:192.168.201.1,ping:192.168.202.1" +
        ",ping:192.168.203.1" + ",tcpsend:192.168.200.1:" + std::to_string(sink.port()) +
        ",fetch:bulk=http://192.168.203.1:" + std::to_string(http.port()) + "/bulk" +
        ",tcpsend:192.168.201.1:" + std::to_string(vhost_sink.port()) +
        ",fetch:vhost=http://192.168.201.1:" + std::to_string(vhost_http.port()) + "/bulk,reboot";
    auto argv = vmm_argv(actions, "", "2");
    argv.insert(
        argv.end(),
        {"--log-level", "info", "--net", std::string("tap=vmmtap0,mac=") + kMac0, "--net",
         std::string("tap=vmmtap1,vhost=on,mac=") + kMac1, "--net",
         std::string("tap=vmmtap2,vhost=on,vhost-device=/nonexistent/vhost-net,mac=") + kMac2,
         "--net", std::string("tap=vmmtap3,queues=2,mac=") + kMac3});
    spawn(argv);
    // vhost-net's worker, named after its owner: a kernel thread (before Linux 6.4) or a
    // thread of vmm itself. Looked for while the guest is up.
    if (vm_->wait_for_stdout("VMMTEST: nic_count=", deadline)) {
      r.vhost_worker_seen = thread_named("vhost-" + std::to_string(vm_->pid()));
    }
    if (!vm_->wait_for_stdout("VMMTEST: actions finished", deadline)) {
      r.problem = "the guest never reported 'VMMTEST: actions finished'";
    }
    r.vmm_status = vm_->wait(std::min(deadline, Clock::now() + 60s));
    // The guest's tcpsend waits for the sink's close before it reports; the sink may still be
    // recording its count.
    const auto sink_deadline = Clock::now() + 10s;
    while (!sink.done() && Clock::now() < sink_deadline) std::this_thread::sleep_for(50ms);
    while (!vhost_sink.done() && Clock::now() < sink_deadline) std::this_thread::sleep_for(50ms);
    sink.stop();
    http.stop();
    vhost_sink.stop();
    vhost_http.stop();
    r.sink_bytes = sink.bytes();
    if (fs::exists(sink_file)) r.sink_sha256 = sha256_file(sink_file);
    r.vhost_sink_bytes = vhost_sink.bytes();
    if (fs::exists(vhost_sink_file)) r.vhost_sink_sha256 = sha256_file(vhost_sink_file);
  }

  void run_user(NetResult& r) {
    if (!prepare(r)) return;
    const auto deadline = Clock::now() + 2 * KvmTestEnv::get().test_limit;
    // The sandbox boots with its loopback down; bringing it up adds no address of ours.
    const ToolResult lo = run_tool({"ip", "-o", "link", "show", "dev", "lo"}, deadline);
    if (lo.ok() && lo.out.find("<LOOPBACK,UP") == std::string::npos &&
        !run_tool({"ip", "link", "set", "dev", "lo", "up"}, deadline).ok()) {
      r.problem = "the loopback interface is down and cannot be brought up";
      return;
    }
    const fs::path host_file = scratch_ / "loopback.data";
    write_random_file(host_file, kUserFileBytes, static_cast<uint64_t>(::getpid()) + 1);
    r.host_file_sha256 = sha256_file(host_file);
    HttpFileServer http("127.0.0.1", host_file);
    const uint16_t fwd_port = free_loopback_port();
    r.token = "vmmnet-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::system_clock::now().time_since_epoch().count());

    const std::string actions =
        "netinfo,dhcp,fetch:loopback=http://10.0.2.2:" + std::to_string(http.port()) +
        "/file,httpd:8080,sleep";
    auto argv = vmm_argv(actions, "vmmtoken=" + r.token);
    argv.insert(argv.end(),
                {"--net", "user,hostfwd=tcp:127.0.0.1:" + std::to_string(fwd_port) + "-:8080"});
    spawn(argv);
    if (!vm_->wait_for_stdout("VMMTEST: httpd_ready=8080", deadline)) {
      r.problem = "the guest never reported 'VMMTEST: httpd_ready=8080'";
      return;
    }
    // The forward exists from the start; retry only for a slow first connection.
    const auto fwd_deadline = std::min(deadline, Clock::now() + 60s);
    while (!r.hostfwd_body && Clock::now() < fwd_deadline) {
      r.hostfwd_body = http_get("127.0.0.1", fwd_port, "/token", Clock::now() + 20s);
      if (!r.hostfwd_body) std::this_thread::sleep_for(500ms);
    }
    http.stop();
    r.fetches_served = http.served();
  }

  void collect(NetResult& r) {
    if (!vm_) return;
    vm_->kill();
    r.console = vm_->stdout_text();
    r.vmm_log = vm_->stderr_text();
  }

  void save_log(NetResult& r) const {
    const fs::path log_dir = KvmTestEnv::get().log_dir;
    std::error_code ec;
    fs::create_directories(log_dir, ec);
    const fs::path path = log_dir / ("NetScenario_" + backend_name(backend_) + ".log");
    std::ofstream(path) << "$ " << command_line_ << "\n--- console (stdout) ---\n"
                        << r.console << "\n--- vmm log (stderr) ---\n"
                        << r.vmm_log << "\n";
    r.log_path = path.string();
  }

  Backend backend_;
  fs::path scratch_;
  fs::path root_img_;
  std::string initrd_;
  std::optional<Subprocess> vm_;
  std::string command_line_;
};

const NetResult& scenario(Backend backend) {
  static std::unique_ptr<NetResult> results[2];
  auto& slot = results[backend == Backend::kTap ? 0 : 1];
  if (!slot) slot = std::make_unique<NetResult>(NetScenario(backend).run());
  return *slot;
}

class TapNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!r().problem.empty()) GTEST_FAIL() << r().problem << where();
  }
  static const NetResult& r() { return scenario(Backend::kTap); }
  static std::string where() { return " (log: " + r().log_path + ")"; }
};

TEST_F(TapNet, GuestSeesFourVirtioNicsWithTheGivenMacs) {
  EXPECT_EQ(r().mark("nic_count"), "4") << where();
  for (const char* mac : {kMac0, kMac1, kMac2, kMac3}) {
    EXPECT_NE(r().console.find(std::string("=mac:") + mac + " mtu:1500 driver:virtio_net"),
              std::string::npos)
        << "no virtio_net interface with MAC " << mac << where();
  }
}

TEST_F(TapNet, QueuesOptionGivesTheGuestTwoQueuePairs) {
  for (const auto& [mac, queues] :
       {std::pair{kMac0, "rxq:1 txq:1"}, std::pair{kMac3, "rxq:2 txq:2"}}) {
    EXPECT_NE(
        r().console.find(std::string("=mac:") + mac + " mtu:1500 driver:virtio_net " + queues),
        std::string::npos)
        << "the NIC with MAC " << mac << " does not show " << queues << where();
  }
}

// vmmtap0 has no queues= on a 2-vCPU VM: a pair per vCPU was tried, and the TAP, made without
// multi_queue, took one, with a log line instead of a failed VM.
TEST_F(TapNet, AnUnsizedNicOnASingleQueueTapFallsBackToOnePairAndSaysSo) {
  EXPECT_NE(r().vmm_log.find("virtio-net vmmtap0: one queue pair: the TAP does not take 2"),
            std::string::npos)
      << where();
  EXPECT_NE(r().console.find(std::string("=mac:") + kMac0 + " mtu:1500 driver:virtio_net rxq:1"),
            std::string::npos)
      << where();
}

TEST_F(TapNet, GuestPingsTheHostWithoutLoss) {
  EXPECT_NE(r().mark("ipaddr_192.168.200.2").value_or("failed"), "failed") << where();
  EXPECT_EQ(r().mark("ping_192.168.200.1"), "0%") << where();
}

TEST_F(TapNet, SecondNicReachesItsOwnSubnet) {
  const auto nic0 = r().mark("ipaddr_192.168.200.2");
  const auto nic1 = r().mark("ipaddr_192.168.201.2");
  ASSERT_TRUE(nic0 && nic1) << where();
  EXPECT_NE(*nic0, *nic1) << "both addresses on one interface" << where();
  EXPECT_EQ(r().mark("ping_192.168.201.1"), "0%") << where();
}

TEST_F(TapNet, GuestSends64MiBThatArriveIntact) {
  const auto sent = r().mark("tcpsend_sha256");
  ASSERT_TRUE(sent.has_value()) << where();
  EXPECT_EQ(r().mark("tcpsend"), "ok") << where();
  EXPECT_EQ(r().sink_bytes, kBulkBytes) << where();
  EXPECT_EQ(r().sink_sha256, *sent)
      << "the host received other data than the guest sent" << where();
}

TEST_F(TapNet, GuestReceives64MiBOverTwoQueuePairsIntact) {
  EXPECT_EQ(r().mark("ping_192.168.203.1"), "0%") << where();
  ASSERT_EQ(r().host_file_sha256.size(), 64U);
  EXPECT_EQ(r().mark("fetch_bulk_bytes"), std::to_string(kBulkBytes)) << where();
  EXPECT_EQ(r().mark("fetch_bulk_sha256"), r().host_file_sha256)
      << "the guest received other data than the host sent" << where();
}

TEST_F(TapNet, GuestRebootEndsVmmCleanlyAndTheTapsAreGone) {
  ASSERT_TRUE(r().vmm_status.has_value()) << "vmm kept running after the guest rebooted" << where();
  EXPECT_TRUE(r().vmm_status->exited && r().vmm_status->code == 0)
      << r().vmm_status->describe() << where();
  EXPECT_TRUE(r().taps_removed) << "vmmtap0-3 still exist after the test";
}

TEST_F(TapNet, VhostNetServesTheSecondNic) {
  EXPECT_TRUE(r().vhost_worker_seen) << "no vhost-PID worker while the guest ran" << where();
  // Both directions bypass vmm: kicks through ioeventfds, interrupts through irqfds.
  EXPECT_NE(r().vmm_log.find(
                "virtio-net vmmtap1: vhost-net serves the queues (interrupts through KVM irqfds)"),
            std::string::npos)
      << where();
  EXPECT_NE(r().vmm_log.find("virtio-net vmmtap1: vhost-net served the queues (1 starts,"),
            std::string::npos)
      << where();
  EXPECT_EQ(r().vmm_log.find("vhost-net unavailable (/dev/vhost-net"), std::string::npos)
      << where();
}

TEST_F(TapNet, GuestSends64MiBOverVhostNetThatArriveIntact) {
  const auto sent = r().mark_after("fetch_bulk_sha256", "tcpsend_sha256");
  ASSERT_TRUE(sent.has_value()) << where();
  EXPECT_EQ(r().mark_after("fetch_bulk_sha256", "tcpsend"), "ok") << where();
  EXPECT_EQ(r().vhost_sink_bytes, kBulkBytes) << where();
  EXPECT_EQ(r().vhost_sink_sha256, *sent)
      << "the host received other data than the guest sent" << where();
}

TEST_F(TapNet, GuestReceives16MiBOverVhostNetIntact) {
  ASSERT_EQ(r().vhost_file_sha256.size(), 64U);
  EXPECT_EQ(r().mark("fetch_vhost_bytes"), std::to_string(kVhostFetchBytes)) << where();
  EXPECT_EQ(r().mark("fetch_vhost_sha256"), r().vhost_file_sha256)
      << "the guest received other data than the host sent" << where();
}

TEST_F(TapNet, WithoutVhostNetTheNicFallsBackWithOneWarning) {
  const std::string line =
      "virtio-net vmmtap2: vhost-net unavailable (/nonexistent/vhost-net: No such file or "
      "directory): using the user-space data path";
  const size_t at = r().vmm_log.find(line);
  EXPECT_NE(at, std::string::npos) << where();
  EXPECT_EQ(r().vmm_log.find("vhost-net unavailable", at + line.size()), std::string::npos)
      << "more than one warning" << where();
  EXPECT_EQ(r().mark("ping_192.168.202.1"), "0%") << where();
  EXPECT_EQ(r().vmm_log.find("virtio-net vmmtap2: vhost-net serves"), std::string::npos) << where();
}

class UserNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!r().problem.empty()) GTEST_FAIL() << r().problem << where();
  }
  static const NetResult& r() { return scenario(Backend::kUser); }
  static std::string where() { return " (log: " + r().log_path + ")"; }
};

TEST_F(UserNet, DefaultMacIsLocallyAdministeredUnicast) {
  EXPECT_EQ(r().mark("nic_count"), "1") << where();
  const std::regex re(R"(VMMTEST: nic_\w+=mac:([0-9a-f]{2})(:[0-9a-f]{2}){5} .*driver:virtio_net)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r().console, m, re)) << "no virtio_net interface" << where();
  const unsigned long first = std::stoul(m[1].str(), nullptr, 16);
  EXPECT_EQ(first & 0x2UL, 0x2UL) << "not locally administered: " << m[0].str();
  EXPECT_EQ(first & 0x1UL, 0x0UL) << "a multicast address: " << m[0].str();
}

TEST_F(UserNet, GuestGetsItsAddressByDhcp) {
  EXPECT_EQ(r().mark("dhcp_addr"), "10.0.2.15/24") << where();
  EXPECT_EQ(r().mark("dhcp_router"), "10.0.2.2") << where();
  EXPECT_EQ(r().mark("dhcp_dns"), "10.0.2.3") << where();
}

TEST_F(UserNet, GuestFetchesAFileFromTheHostLoopback) {
  ASSERT_EQ(r().host_file_sha256.size(), 64U);
  EXPECT_GE(r().fetches_served, 1) << "the host server saw no request" << where();
  EXPECT_EQ(r().mark("fetch_loopback_bytes"), std::to_string(kUserFileBytes)) << where();
  EXPECT_EQ(r().mark("fetch_loopback_sha256"), r().host_file_sha256) << where();
}

TEST_F(UserNet, HostReachesAGuestServerThroughHostfwd) {
  ASSERT_TRUE(r().hostfwd_body.has_value()) << "no HTTP answer through the forward" << where();
  EXPECT_EQ(*r().hostfwd_body, r().token + "\n") << where();
}

// Bad --net arguments: one line naming the problem, exit status 2, nothing started. Needs no
// KVM (argument errors come first), only the vmm binary and a kernel file.
class NetCli : public ::testing::Test {
 protected:
  static ToolResult vmm_with_net(const std::string& net) {
    const KvmTestEnv& env = KvmTestEnv::get();
    return run_tool({env.vmm_bin, "run", "--kernel", env.kernel, "--memory", "128M", "--net", net},
                    Clock::now() + 30s);
  }
  static void expect_usage_error(const std::string& net, const std::string& needle) {
    const ToolResult r = vmm_with_net(net);
    EXPECT_TRUE(r.status.exited && r.status.code == 2)
        << "--net " << net << ": " << r.status.describe() << "; stderr: " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos)
        << "--net " << net << ": the message does not name '" << needle << "': " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1)
        << "--net " << net << ": not one line: " << r.err;
    EXPECT_TRUE(r.out.empty()) << "stdout must stay clean: " << r.out;
    // The value is refused, not the option: a vmm without --net must not pass these tests.
    EXPECT_EQ(r.err.find("not expected"), std::string::npos)
        << "--net itself is not understood: " << r.err;
  }
  void SetUp() override {
    const KvmTestEnv& env = KvmTestEnv::get();
    if (::access(env.vmm_bin.c_str(), X_OK) != 0 || ::access(env.kernel.c_str(), R_OK) != 0) {
      GTEST_FAIL() << "needs VMM_BIN and VMM_TEST_KERNEL: " << env.problem;
    }
  }
};

TEST_F(NetCli, UnknownBackend) { expect_usage_error("bogus", "bogus"); }

TEST_F(NetCli, TapWithoutOrWithTooLongName) {
  expect_usage_error("tap=", "tap");
  expect_usage_error("tap=this-name-is-too-long", "this-name-is-too-long");
}

TEST_F(NetCli, BadMacAddress) {
  expect_usage_error("tap=vmmtap9,mac=zz:54:00:12:34:56", "zz:54:00:12:34:56");
  expect_usage_error("tap=vmmtap9,mac=52:54:00:12:34", "52:54:00:12:34");
  expect_usage_error("tap=vmmtap9,mac=01:00:5e:00:00:01", "01:00:5e:00:00:01");  // multicast
}

TEST_F(NetCli, UnknownOption) {
  expect_usage_error("tap=vmmtap9,speed=fast", "speed");
  expect_usage_error("user,frobnicate=1", "frobnicate");
}

TEST_F(NetCli, BadHostForward) {
  expect_usage_error("user,hostfwd=tcp:127.0.0.1:notaport-:80", "notaport");
  expect_usage_error("user,hostfwd=tcp:127.0.0.1:8080-:70000", "70000");
  expect_usage_error("user,hostfwd=sctp:127.0.0.1:8080-:80", "sctp");
  expect_usage_error("user,hostfwd=tcp:127.0.0.1:8080", "hostfwd");
}

}  // namespace
}  // namespace vmm::test
