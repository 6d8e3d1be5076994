#include "cli/ctl_command.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <map>

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

}  // namespace

int run_ctl(const std::string& socket_path, const std::string& command) {
  const auto it = calls().find(command);
  if (it == calls().end()) {
    throw ConfigError("ctl: unknown command '" + command +
                      "' (ping, info, counters, pause, resume, shutdown, power-button)");
  }
  asio::io_context context;
  asio::local::stream_protocol::socket socket(context);
  boost::system::error_code ec;
  socket.connect(asio::local::stream_protocol::endpoint(socket_path), ec);
  if (ec) throw HostResourceError("cannot reach the API at " + socket_path + ": " + ec.message());

  http::request<http::string_body> request{it->second.verb,
                                           std::string("/api/v1/") + it->second.endpoint, 11};
  request.set(http::field::host, "localhost");
  request.set(http::field::user_agent, "vmm-ctl");
  request.keep_alive(false);
  request.prepare_payload();
  http::write(socket, request, ec);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!ec) http::read(socket, buffer, response, ec);
  if (ec) throw Error("API at " + socket_path + ": " + ec.message());

  const unsigned status = response.result_int();
  if (status >= 200 && status < 300) {
    if (!response.body().empty()) std::printf("%s\n", response.body().c_str());
    return 0;
  }
  std::fprintf(stderr, "vmm: ctl %s: HTTP %u %s\n", command.c_str(), status,
               response.body().c_str());
  return 1;
}

}  // namespace vmm::cli
