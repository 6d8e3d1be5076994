// The per-VM REST API without a VM: routing and statuses against a fake VM, and the HTTP server
// on a real Unix socket against clients that misbehave.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/api_server.hpp"
#include "api/vm_api.hpp"
#include "support/fake_vm_control.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::api {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::FakeVmControl;

ApiResponse call(VmControl& vm, const std::string& method, const std::string& target,
                 const std::string& body = "") {
  return dispatch(vm, ApiRequest{.method = method, .target = target, .body = body, .headers = {}});
}

TEST(ApiDispatch, PingAndInfo) {
  FakeVmControl vm;
  const ApiResponse ping = call(vm, "GET", "/api/v1/vmm.ping");
  EXPECT_EQ(ping.status, 200u);
  const json p = json::parse(ping.body);
  EXPECT_EQ(p["version"], VMM_VERSION);
  EXPECT_EQ(p["pid"], static_cast<int64_t>(::getpid()));

  const json info = json::parse(call(vm, "GET", "/api/v1/vm.info").body);
  EXPECT_EQ(info["state"], "Running");
  EXPECT_EQ(info["config"]["cpus"], 2);
  EXPECT_EQ(info["devices"][0]["id"], "disk0");
  EXPECT_EQ(info["memory_actual_size"], 256ULL << 20);
  EXPECT_FALSE(info.contains("vsock")) << "no vsock device, no key";
}

TEST(ApiDispatch, InfoShowsTheVsockDevice) {
  FakeVmControl vm;
  vm.vsock_config = VsockConfig{.cid = 7, .socket = "/run/vmm/vm1.vsock"};
  const json info = json::parse(call(vm, "GET", "/api/v1/vm.info").body);
  EXPECT_EQ(info["vsock"], (json{{"cid", 7}, {"socket", "/run/vmm/vm1.vsock"}}));
}

TEST(ApiDispatch, PauseResumeFollowTheStateAnd409Otherwise) {
  FakeVmControl vm;
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.pause").status, 204u);
  EXPECT_EQ(json::parse(call(vm, "GET", "/api/v1/vm.info").body)["state"], "Paused");
  const ApiResponse twice = call(vm, "PUT", "/api/v1/vm.pause");
  EXPECT_EQ(twice.status, 409u);
  EXPECT_TRUE(json::parse(twice.body).contains("error"));
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.resume").status, 204u);
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.resume").status, 409u);
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.shutdown").status, 204u);
  EXPECT_EQ(json::parse(call(vm, "GET", "/api/v1/vm.info").body)["state"], "Shutdown");
}

TEST(ApiDispatch, PowerButtonPressesOnlyARunningVm) {
  FakeVmControl vm;
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.power-button").status, 204u);
  EXPECT_EQ(vm.power_button_presses, 1);
  EXPECT_EQ(call(vm, "GET", "/api/v1/vm.power-button").status, 405u);
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.pause").status, 204u);
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.power-button").status, 409u);
  EXPECT_EQ(vm.power_button_presses, 1);
}

TEST(ApiDispatch, CountersPerDevice) {
  FakeVmControl vm;
  const json c = json::parse(call(vm, "GET", "/api/v1/vm.counters").body);
  EXPECT_EQ(c["disk0"]["read_ops"], 7);
  EXPECT_EQ(c["disk0"]["write_ops"], 3);
  // Beside the devices, the vCPUs' exits (none in this fake).
  EXPECT_EQ(c["vcpu_exits"]["total"], 0);
  EXPECT_TRUE(c["vcpu_exits"]["top"].is_array());
}

TEST(ApiDispatch, UnknownPathWrongMethodAndBadBody) {
  FakeVmControl vm;
  EXPECT_EQ(call(vm, "GET", "/api/v1/vm.nothing").status, 404u);
  EXPECT_EQ(call(vm, "GET", "/").status, 404u);
  EXPECT_EQ(call(vm, "GET", "/api/v2/vm.info").status, 404u);
  const ApiResponse wrong = call(vm, "GET", "/api/v1/vm.pause");
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_EQ(wrong.allow, "PUT");
  EXPECT_EQ(call(vm, "DELETE", "/api/v1/vm.info").status, 405u);
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.pause", "{not json").status, 400u);
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.pause", "[1,2]").status, 400u);
  EXPECT_EQ(vm.state(), VmState::kRunning) << "a refused request changes nothing";
  EXPECT_EQ(call(vm, "PUT", "/api/v1/vm.pause", "{}").status, 204u);
}

TEST(ApiHttpParse, WholeRequestsMalformedAndOversized) {
  const ApiLimits limits;
  const ParsedRequest ok = parse_http_request(
      "PUT /api/v1/vm.pause HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", limits);
  ASSERT_TRUE(ok.request.has_value());
  EXPECT_EQ(ok.request->method, "PUT");
  EXPECT_EQ(ok.request->target, "/api/v1/vm.pause");
  EXPECT_EQ(ok.request->body, "{}");
  EXPECT_EQ(parse_http_request("GET /x HTTP/1.1\r\nHost:", limits).error_status, 0u)
      << "incomplete: more bytes needed";
  EXPECT_EQ(parse_http_request("garbage\r\n\r\n", limits).error_status, 400u);
  EXPECT_EQ(parse_http_request("PUT /a HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", limits)
                .error_status,
            413u);
  const std::string huge_header = "GET /a HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(parse_http_request(huge_header, limits).error_status, 431u);
}

// A client on the server's socket, with a deadline on every read.
class Client {
 public:
  explicit Client(const std::filesystem::path& path) {
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  [[nodiscard]] bool connected() const { return connected_; }
  bool send(const std::string& data) const {
    return ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(data.size());
  }
  // Everything until the server closes, or what came by the deadline.
  std::string read_all(std::chrono::milliseconds limit = 5s) const {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
      char buf[4096];
      const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  // Whether the server closed the connection within the limit.
  bool closed_within(std::chrono::milliseconds limit) const {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char c;
    return ::read(fd_.get(), &c, 1) == 0;
  }

 private:
  UniqueFd fd_;
  bool connected_ = false;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vmm-api-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "api.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ApiServer> serve(ApiLimits limits = {}) {
    return std::make_unique<ApiServer>(
        path_, [this](const ApiRequest& r) { return dispatch(vm_, r); }, limits);
  }
  static std::string get(const std::string& endpoint) {
    return "GET /api/v1/" + endpoint + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
  FakeVmControl vm_;
};

TEST_F(ApiServerTest, SocketIsPrivateAndRemovedAtExit) {
  {
    auto server = serve();
    struct stat st {};
    ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    Client c(path_);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(get("vmm.ping")));
    const std::string answer = c.read_all();
    EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
    EXPECT_NE(answer.find("application/json"), std::string::npos) << answer;
  }
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(ApiServerTest, LiveSocketRefusedStaleSocketReplaced) {
  auto live = serve();
  EXPECT_THROW(serve(), HostResourceError);
  live.reset();
  // A stale socket file: bound once, nobody listening any more.
  {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  ASSERT_TRUE(std::filesystem::exists(path_));
  auto replaced = serve();
  Client c(path_);
  ASSERT_TRUE(c.send(get("vmm.ping")));
  EXPECT_NE(c.read_all().find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(ApiServerTest, NotASocketIsRefused) {
  { std::ofstream(path_) << "x"; }
  EXPECT_THROW(serve(), HostResourceError);
  EXPECT_TRUE(std::filesystem::exists(path_)) << "a regular file is never removed";
}

TEST_F(ApiServerTest, HostileClientsGetTheirStatusAndOthersAreServed) {
  ApiLimits limits;
  limits.request_timeout_ms = 500;
  auto server = serve(limits);

  Client garbage(path_);
  ASSERT_TRUE(garbage.send("\x01\x02 not http at all\r\n\r\n"));
  EXPECT_NE(garbage.read_all().find("HTTP/1.1 400"), std::string::npos);

  Client bad_json(path_);
  ASSERT_TRUE(
      bad_json.send("PUT /api/v1/vm.pause HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{nope"));
  EXPECT_NE(bad_json.read_all(1s).find("HTTP/1.1 400"), std::string::npos);

  Client huge(path_);
  ASSERT_TRUE(huge.send("PUT /api/v1/vm.pause HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                        std::to_string(1 << 20) + "\r\n\r\n"));
  (void)huge.send(std::string(1 << 16, 'x'));
  EXPECT_NE(huge.read_all().find("HTTP/1.1 413"), std::string::npos);

  Client unknown(path_);
  ASSERT_TRUE(unknown.send(get("vm.nothing")));
  EXPECT_NE(unknown.read_all().find("HTTP/1.1 404"), std::string::npos);

  Client wrong_method(path_);
  ASSERT_TRUE(wrong_method.send(get("vm.pause")));
  const std::string w = wrong_method.read_all();
  EXPECT_NE(w.find("HTTP/1.1 405"), std::string::npos) << w;
  EXPECT_NE(w.find("Allow: PUT"), std::string::npos) << w;

  // A client that connects and never speaks is dropped after the request timeout...
  Client silent(path_);
  ASSERT_TRUE(silent.connected());
  // ...and while it waits, others are answered at once.
  Client meanwhile(path_);
  ASSERT_TRUE(meanwhile.send(get("vmm.ping")));
  EXPECT_NE(meanwhile.read_all(400ms).find("HTTP/1.1 200"), std::string::npos);
  EXPECT_TRUE(silent.closed_within(3s)) << "a silent client must be dropped";
  EXPECT_EQ(vm_.state(), VmState::kRunning) << "no hostile request changed the VM";
}

TEST_F(ApiServerTest, TwoHundredConnectionsNeverBlockTheServer) {
  ApiLimits limits;
  limits.request_timeout_ms = 2000;
  auto server = serve(limits);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(std::make_unique<Client>(path_));
  size_t served = 0;
  size_t dropped = 0;
  for (auto& c : clients) {
    if (!c->send(get("vmm.ping"))) {
      ++dropped;
      continue;
    }
    const std::string answer = c->read_all(3s);
    if (answer.find("HTTP/1.1 200") != std::string::npos) {
      ++served;
    } else {
      ++dropped;
    }
  }
  EXPECT_EQ(served + dropped, 200u);
  EXPECT_GE(served, limits.max_connections / 2) << "most clients within the limit are served";
  clients.clear();
  // Once they are gone, a new client is served at once.
  Client after(path_);
  ASSERT_TRUE(after.send(get("vmm.ping")));
  EXPECT_NE(after.read_all(2s).find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(ApiServerTest, KeepAliveServesSeveralRequestsInOrder) {
  auto server = serve();
  Client c(path_);
  ASSERT_TRUE(
      c.send("PUT /api/v1/vm.pause HTTP/1.1\r\nHost: x\r\n\r\n"
             "PUT /api/v1/vm.pause HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string all = c.read_all();
  const auto first = all.find("HTTP/1.1 204");
  const auto second = all.find("HTTP/1.1 409");
  const auto third = all.find("\"state\":\"Paused\"");
  ASSERT_NE(first, std::string::npos) << all;
  ASSERT_NE(second, std::string::npos) << all;
  ASSERT_NE(third, std::string::npos) << all;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

}  // namespace
}  // namespace vmm::api
