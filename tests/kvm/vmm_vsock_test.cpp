// End-to-end test of virtio-vsock: the real vmm boots Debian's stock kernel with the
// root-on-disk initramfs (firmware/build-rootfs-initramfs.sh loads vmw_vsock_virtio_transport)
// and the busybox test root, whose init (firmware/rootfs-init.sh) starts an echo server on
// vsock port 5000 and sends 4 MiB to the host's port 5001 (firmware/guest-tools/vsockcat.c).
// The host side is this test process, speaking Firecracker's convention on `--vsock
// cid=42,socket=PATH`:
//   - host -> guest: connect to PATH, "CONNECT 5000\n", read "OK <port>\n", send 8 MiB (far
//     beyond any credit, so flow control has to work) and half-close; the echo must come back
//     whole (sha256 compared);
//   - guest -> host: a listener on PATH_5001 echoes what the guest sends; both sides compare;
//   - "CONNECT 5999\n" (nobody listens) is closed without an OK;
//   - a second vmm on the same PATH is refused (exit 2, one line naming --vsock and PATH);
//   - vm.info shows {"vsock": {"cid": 42, "socket": PATH}} and vm.counters the device's
//     counters; after `vmm ctl shutdown` the socket file is gone.
// One boot for all of it (a boot costs 15-25 s in the sandbox). Console and vmm's log go to
// VMM_KVM_LOG_DIR/VsockScenario.log.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

constexpr uint32_t kCid = 42;
constexpr uint32_t kGuestPort = 5000;  // the guest's echo server
constexpr uint32_t kHostPort = 5001;   // the host's echo server, at PATH_5001
constexpr uint32_t kNobodyPort = 5999;
constexpr uint64_t kHostBytes = 8 << 20;   // host -> guest -> host
constexpr uint64_t kGuestBytes = 4 << 20;  // guest -> host -> guest (fixed by rootfs-init.sh)

std::string sha256_file(const fs::path& file) {
  const ToolResult r = run_tool({"sha256sum", file.string()}, Clock::now() + 60s);
  if (!r.ok() || r.out.size() < 64) return {};
  return r.out.substr(0, 64);
}

sockaddr_un unix_address(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + s);
  std::memcpy(addr.sun_path, s.data(), s.size());
  return addr;
}

UniqueFd unix_connect(const fs::path& path) {
  UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  const sockaddr_un addr = unix_address(path);
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return UniqueFd{};
  }
  return fd;
}

// Sends everything unless the peer takes nothing for 20 s (a stalled transfer must end the
// scenario, not hang it).
bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 20000) <= 0) return false;
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads one line (up to and without the newline); nullopt on EOF, error or timeout first.
std::optional<std::string> read_line(int fd, Clock::time_point deadline) {
  std::string line;
  while (Clock::now() < deadline && line.size() < 64) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char c = 0;
    if (::recv(fd, &c, 1, 0) != 1) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
  return std::nullopt;
}

// Reads the stream to its end into `out`; false on error or timeout.
bool read_to_end(int fd, std::ofstream& out, uint64_t& bytes, Clock::time_point deadline) {
  std::vector<char> buf(256 * 1024);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) return false;
    if (n == 0) return true;
    out.write(buf.data(), n);
    bytes += static_cast<uint64_t>(n);
  }
  return false;
}

void write_random_file(const fs::path& path, uint64_t bytes, uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<uint64_t> chunk(1 << 17);
  for (uint64_t done = 0; done < bytes; done += chunk.size() * sizeof(uint64_t)) {
    for (auto& word : chunk) word = rng();
    out.write(reinterpret_cast<const char*>(chunk.data()),
              static_cast<std::streamsize>(chunk.size() * sizeof(uint64_t)));
  }
}

struct VsockResult {
  std::string problem;
  std::string console;
  std::string vmm_log;
  std::string log_path;
  std::optional<ExitStatus> vmm_status;
  fs::path socket;
  // host -> guest
  std::optional<std::string> ok_line;
  std::string sent_sha256;
  std::string echo_sha256;
  uint64_t echo_bytes = 0;
  // nobody listens
  bool refused_closed = false;
  std::string refused_reply;
  // guest -> host
  uint64_t host_received = 0;
  std::string host_received_sha256;
  // API
  json info;
  json counters;
  ToolResult second_vmm;  // `vmm run` on the same socket while the first runs
  bool socket_gone_after_exit = false;

  [[nodiscard]] std::optional<std::string> mark(const std::string& key) const {
    return marker(console, key);
  }
};

// The host's echo server at PATH_5001: one connection, echoed as it arrives, kept in a file.
class HostEcho {
 public:
  HostEcho(const fs::path& path, fs::path copy) : copy_(std::move(copy)) {
    listener_ = UniqueFd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    const sockaddr_un addr = unix_address(path);
    if (!listener_ ||
        ::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_.get(), 4) != 0) {
      throw std::runtime_error("cannot listen on " + path.string());
    }
    thread_ = std::thread([this] { serve(); });
  }
  HostEcho(const HostEcho&) = delete;
  HostEcho& operator=(const HostEcho&) = delete;
  ~HostEcho() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] bool done() const { return done_; }
  [[nodiscard]] uint64_t bytes() const { return bytes_; }

 private:
  void serve() {
    UniqueFd conn;
    while (!stop_ && !conn) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 200) > 0)
        conn = UniqueFd{::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    }
    if (!conn) return;
    std::ofstream out(copy_, std::ios::binary | std::ios::trunc);
    std::vector<char> buf(64 * 1024);
    while (!stop_) {
      pollfd p{conn.get(), POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      const ssize_t n = ::recv(conn.get(), buf.data(), buf.size(), 0);
      if (n <= 0) break;
      out.write(buf.data(), n);
      bytes_ += static_cast<uint64_t>(n);
      if (!send_all(conn.get(), buf.data(), static_cast<size_t>(n))) break;
    }
    out.flush();
    ::shutdown(conn.get(), SHUT_WR);  // the guest reads the echo to its end
    // Wait for the guest's close so that nothing is cut short.
    while (!stop_) {
      pollfd p{conn.get(), POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      if (::recv(conn.get(), buf.data(), buf.size(), 0) <= 0) break;
    }
    done_ = true;
  }

  fs::path copy_;
  UniqueFd listener_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> bytes_{0};
};

class VsockScenario {
 public:
  VsockResult run() {
    VsockResult r;
    try {
      run_scenario(r);
    } catch (const std::exception& e) {
      r.problem = std::string("scenario aborted: ") + e.what();
    }
    if (vm_) {
      vm_->kill();
      r.console = vm_->stdout_text();
      r.vmm_log = vm_->stderr_text();
    }
    std::error_code ec;
    fs::remove_all(scratch_, ec);
    save_log(r);
    if (!r.problem.empty()) {
      std::fprintf(stderr, "--- vsock scenario failed: %s\n--- console ---\n%s\n--- vmm ---\n%s\n",
                   r.problem.c_str(), r.console.c_str(), r.vmm_log.c_str());
    }
    return r;
  }

 private:
  void run_scenario(VsockResult& r) {
    const KvmTestEnv& env = KvmTestEnv::get();
    r.problem = kvm_environment_problem();
    if (!r.problem.empty()) return;
    const std::string cache = cache_dir();
    const std::string initrd =
        env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz");
    const std::string rootfs = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
    for (const auto& [path, how] : {std::pair{initrd, "firmware/build-rootfs-initramfs.sh"},
                                    std::pair{rootfs, "firmware/build-test-rootfs.sh"}}) {
      if (::access(path.c_str(), R_OK) != 0) {
        r.problem = "missing " + path + " (built by " + how + "; the kvm_assets test runs it)";
        return;
      }
    }
    const auto deadline = Clock::now() + 2 * env.test_limit;
    // Short paths: a Unix socket path has at most 107 bytes, and PATH_5001 is longer still.
    scratch_ = fs::path("/tmp") / ("vmm-vsock-" + std::to_string(::getpid()));
    fs::remove_all(scratch_);
    fs::create_directories(scratch_);
    const fs::path root_img = scratch_ / "root.ext4";
    fs::copy_file(rootfs, root_img, fs::copy_options::overwrite_existing);
    r.socket = scratch_ / "v.sock";
    const fs::path api = scratch_ / "api.sock";
    const fs::path host_copy = scratch_ / "from-guest.data";
    HostEcho host_echo(r.socket.string() + "_" + std::to_string(kHostPort), host_copy);

    std::string cmdline =
        "console=ttyS0 reboot=k panic=-1 quiet pci=noearly root=/dev/vda rootfstype=ext4 rw "
        "rootwait "
        "rd.emergency=reboot vmmtest=vsockinfo,vsocklisten:" +
        std::to_string(kGuestPort) + ",vsocksend:" + std::to_string(kHostPort) + ",sleep";
    if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
    spawn({env.vmm_bin, "run", "--kernel", env.kernel, "--initrd", initrd, "--cmdline", cmdline,
           "--cpus", "1", "--memory", "512M", "--disk", root_img.string(), "--api-socket",
           api.string(), "--vsock",
           "cid=" + std::to_string(kCid) + ",socket=" + r.socket.string()});
    if (!vm_->wait_for_stdout("VMMTEST: vsock_listen_" + std::to_string(kGuestPort) + "=",
                              deadline)) {
      r.problem = "the guest never reported its vsock listener";
      return;
    }

    // A second vmm on the same socket is refused, naming the flag and the path.
    r.second_vmm = run_tool({env.vmm_bin, "run", "--kernel", env.kernel, "--initrd", initrd,
                             "--memory", "128M", "--vsock", "cid=43,socket=" + r.socket.string()},
                            std::min(deadline, Clock::now() + 60s));

    // Host -> guest through CONNECT, while the guest's own transfer runs.
    const fs::path sent = scratch_ / "to-guest.data";
    write_random_file(sent, kHostBytes, static_cast<uint64_t>(::getpid()));
    r.sent_sha256 = sha256_file(sent);
    UniqueFd conn = unix_connect(r.socket);
    if (!conn) {
      r.problem = "cannot connect to " + r.socket.string();
      return;
    }
    const std::string command = "CONNECT " + std::to_string(kGuestPort) + "\n";
    send_all(conn.get(), command.data(), command.size());
    r.ok_line = read_line(conn.get(), std::min(deadline, Clock::now() + 60s));
    if (r.ok_line && r.ok_line->rfind("OK ", 0) == 0) {
      std::thread writer([&] {
        std::ifstream in(sent, std::ios::binary);
        std::vector<char> chunk(256 * 1024);
        while (in) {
          in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
          const auto got = static_cast<size_t>(in.gcount());
          if (got == 0 || !send_all(conn.get(), chunk.data(), got)) break;
        }
        ::shutdown(conn.get(), SHUT_WR);
      });
      const fs::path echo = scratch_ / "echo.data";
      {
        std::ofstream out(echo, std::ios::binary | std::ios::trunc);
        (void)read_to_end(conn.get(), out, r.echo_bytes, deadline);
      }
      writer.join();
      r.echo_sha256 = sha256_file(echo);
    }
    conn.reset();

    // Nobody listens on the guest's port 5999: closed without an OK.
    UniqueFd refused = unix_connect(r.socket);
    if (refused) {
      const std::string cmd = "CONNECT " + std::to_string(kNobodyPort) + "\n";
      send_all(refused.get(), cmd.data(), cmd.size());
      std::ofstream sink(scratch_ / "refused.data", std::ios::binary);
      uint64_t n = 0;
      r.refused_closed =
          read_to_end(refused.get(), sink, n, std::min(deadline, Clock::now() + 60s));
      sink.close();
      std::ifstream in(scratch_ / "refused.data", std::ios::binary);
      r.refused_reply.assign(std::istreambuf_iterator<char>(in), {});
    }

    // Guest -> host: the guest reports when its echo came back.
    if (!vm_->wait_for_stdout("VMMTEST: vsocksend_" + std::to_string(kHostPort) + "=", deadline)) {
      r.problem = "the guest never finished its transfer to the host";
    }
    host_echo.stop();
    r.host_received = host_echo.bytes();
    r.host_received_sha256 = sha256_file(host_copy);

    for (const auto& [what, into] : {std::pair{"info", &r.info}, {"counters", &r.counters}}) {
      const ToolResult t =
          run_tool({env.vmm_bin, "ctl", "--api-socket", api.string(), what}, deadline);
      if (t.ok()) *into = json::parse(t.out, nullptr, false);
    }
    const ToolResult down =
        run_tool({env.vmm_bin, "ctl", "--api-socket", api.string(), "shutdown"}, deadline);
    r.vmm_status = vm_->wait(std::min(deadline, Clock::now() + 60s));
    r.socket_gone_after_exit = r.vmm_status.has_value() && !fs::exists(r.socket);
    if (!down.ok() && r.problem.empty()) r.problem = "vmm ctl shutdown failed: " + down.err;
  }

  void spawn(const std::vector<std::string>& argv) {
    for (const auto& a : argv) {
      command_line_ += (command_line_.empty() ? "" : " ") +
                       (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
    }
    vm_.emplace(Subprocess::spawn(argv));
  }

  void save_log(VsockResult& r) const {
    const fs::path log_dir = KvmTestEnv::get().log_dir;
    std::error_code ec;
    fs::create_directories(log_dir, ec);
    const fs::path path = log_dir / "VsockScenario.log";
    std::ofstream(path) << "$ " << command_line_ << "\n--- console (stdout) ---\n"
                        << r.console << "\n--- vmm log (stderr) ---\n"
                        << r.vmm_log << "\n";
    r.log_path = path.string();
  }

  fs::path scratch_;
  std::optional<Subprocess> vm_;
  std::string command_line_;
};

class Vsock : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!r().problem.empty()) GTEST_FAIL() << r().problem << where();
  }
  static const VsockResult& r() {
    static const VsockResult result = VsockScenario().run();
    return result;
  }
  static std::string where() { return " (log: " + r().log_path + ")"; }
};

TEST_F(Vsock, GuestSeesItsCid) {
  EXPECT_EQ(r().mark("vsock_cid"), std::to_string(kCid)) << where();
}

TEST_F(Vsock, HostConnectReachesTheGuestListenerAndTheEchoComesBackWhole) {
  ASSERT_TRUE(r().ok_line.has_value()) << "no OK line after CONNECT" << where();
  EXPECT_TRUE(r().ok_line->rfind("OK ", 0) == 0) << *r().ok_line << where();
  const uint64_t port = std::stoull(r().ok_line->substr(3));
  EXPECT_GE(port, 1ULL << 30) << "Firecracker hands out host ports from 2^30";
  EXPECT_EQ(r().echo_bytes, kHostBytes) << where();
  ASSERT_EQ(r().sent_sha256.size(), 64u);
  EXPECT_EQ(r().echo_sha256, r().sent_sha256) << "the echo differs from what was sent" << where();
}

TEST_F(Vsock, ConnectToAPortNobodyListensOnIsClosedWithoutOk) {
  EXPECT_TRUE(r().refused_closed) << "the stream stayed open" << where();
  EXPECT_EQ(r().refused_reply, "") << where();
}

TEST_F(Vsock, GuestConnectionReachesTheHostListenerAtPathPort) {
  const std::string p = std::to_string(kHostPort);
  EXPECT_EQ(r().mark("vsocksend_" + p), "ok") << where();
  const auto sent = r().mark("vsocksend_" + p + "_sha256");
  ASSERT_TRUE(sent.has_value()) << where();
  EXPECT_EQ(r().host_received, kGuestBytes) << where();
  EXPECT_EQ(r().host_received_sha256, *sent) << "the host received other bytes" << where();
  EXPECT_EQ(r().mark("vsocksend_" + p + "_reply_bytes"), std::to_string(kGuestBytes)) << where();
  EXPECT_EQ(r().mark("vsocksend_" + p + "_reply_sha256"), *sent)
      << "the guest got another echo back" << where();
}

TEST_F(Vsock, ApiInfoAndCountersShowTheDevice) {
  ASSERT_TRUE(r().info.is_object()) << "vmm ctl info failed" << where();
  EXPECT_EQ(r().info["vsock"], (json{{"cid", kCid}, {"socket", r().socket.string()}}))
      << r().info.dump() << where();
  ASSERT_TRUE(r().counters.is_object()) << where();
  const json& c = r().counters["vsock0"];
  ASSERT_TRUE(c.is_object()) << r().counters.dump() << where();
  EXPECT_GE(c["host_connections"].get<uint64_t>(), 1u) << c.dump();
  EXPECT_GE(c["guest_connections"].get<uint64_t>(), 1u) << c.dump();
  EXPECT_GE(c["rx_bytes"].get<uint64_t>(), kHostBytes + kGuestBytes) << c.dump();
  EXPECT_EQ(c["credit_violations"], 0) << c.dump();
  EXPECT_EQ(c["bad_src_cid"], 0) << c.dump();
}

TEST_F(Vsock, ASocketInUseIsRefusedInOneLine) {
  const ToolResult& t = r().second_vmm;
  EXPECT_TRUE(t.status.exited && t.status.code == 2) << t.status.describe() << " " << t.err;
  EXPECT_EQ(t.err, "vmm: --vsock: " + r().socket.string() + " is in use by a running server\n");
}

TEST_F(Vsock, ShutdownEndsVmmAndRemovesTheSocket) {
  ASSERT_TRUE(r().vmm_status.has_value()) << "vmm kept running" << where();
  EXPECT_TRUE(r().vmm_status->exited && r().vmm_status->code == 0)
      << r().vmm_status->describe() << where();
  EXPECT_TRUE(r().socket_gone_after_exit) << r().socket << " is still there" << where();
}

}  // namespace
}  // namespace vmm::test
