#include "cli/ctl_command.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/agent_client.hpp"
#include "cli/exit_status.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct Call {
  http::verb verb;
  const char* endpoint;
};

const std::map<std::string, Call>& calls() {
  static const std::map<std::string, Call> table = {
      {"ping", {http::verb::get, "vmm.ping"}},
      {"info", {http::verb::get, "vm.info"}},
      {"counters", {http::verb::get, "vm.counters"}},
      {"pause", {http::verb::put, "vm.pause"}},
      {"resume", {http::verb::put, "vm.resume"}},
      {"shutdown", {http::verb::put, "vm.shutdown"}},
      {"power-button", {http::verb::put, "vm.power-button"}},
  };
  return table;
}

struct Answer {
  unsigned status = 0;
  std::string body;
};

Answer call_api(const std::string& socket_path, const Call& call) {
  asio::io_context context;
  asio::local::stream_protocol::socket socket(context);
  boost::system::error_code ec;
  socket.connect(asio::local::stream_protocol::endpoint(socket_path), ec);
  if (ec) throw HostResourceError("cannot reach the API at " + socket_path + ": " + ec.message());

  http::request<http::string_body> request{call.verb, std::string("/api/v1/") + call.endpoint, 11};
  request.set(http::field::host, "localhost");
  request.set(http::field::user_agent, "vmm-ctl");
  request.keep_alive(false);
  request.prepare_payload();
  http::write(socket, request, ec);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!ec) http::read(socket, buffer, response, ec);
  if (ec) throw Error("API at " + socket_path + ": " + ec.message());
  return Answer{response.result_int(), response.body()};
}

// The VM's vsock socket, as vm.info tells it.
std::filesystem::path vsock_socket_of(const std::string& socket_path) {
  const Answer info = call_api(socket_path, {http::verb::get, "vm.info"});
  if (info.status < 200 || info.status >= 300) {
    throw StateError("the VM's API answered HTTP " + std::to_string(info.status) + ": " +
                     info.body);
  }
  const auto parsed = nlohmann::json::parse(info.body, nullptr, false);
  const auto vsock = parsed.is_object() ? parsed.find("vsock") : parsed.end();
  if (!parsed.is_object() || vsock == parsed.end() || !vsock->is_object() ||
      !vsock->contains("socket") || !(*vsock)["socket"].is_string()) {
    throw ConfigError("vsock", "the VM has no vsock device (run it with --vsock)");
  }
  return (*vsock)["socket"].get<std::string>();
}

}  // namespace

int run_ctl(const std::string& socket_path, const std::string& command) {
  const auto it = calls().find(command);
  if (it == calls().end()) {
    throw ConfigError("ctl: unknown command '" + command +
                      "' (ping, info, counters, pause, resume, shutdown, power-button)");
  }
  const Answer answer = call_api(socket_path, it->second);
  if (answer.status >= 200 && answer.status < 300) {
    if (!answer.body.empty()) std::printf("%s\n", answer.body.c_str());
    return 0;
  }
  std::fprintf(stderr, "vmm: ctl %s: HTTP %u %s\n", command.c_str(), answer.status,
               answer.body.c_str());
  return 1;
}

int run_ctl_exec(const std::string& socket_path, const AgentExecOptions& options) {
  return exec_through_agent(vsock_socket_of(socket_path), options);
}

int run_ctl_wait_agent(const std::string& socket_path, std::chrono::milliseconds timeout) {
  // A VM still being built answers 503 for a moment: that is waited out too.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::filesystem::path vsock;
  for (;;) {
    try {
      vsock = vsock_socket_of(socket_path);
      break;
    } catch (const StateError&) {
      if (std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (agent::wait_for_agent(vsock, std::max(left, std::chrono::milliseconds(0)))) return 0;
  std::fprintf(stderr, "vmm: ctl wait-agent: the guest agent did not answer within %.1f s\n",
               static_cast<double>(timeout.count()) / 1000.0);
  return static_cast<int>(ExitStatus::kTimeout);
}

}  // namespace vmm::cli
