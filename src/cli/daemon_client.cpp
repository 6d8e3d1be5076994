#include "cli/daemon_client.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace vmm::cli {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

json parse_envelope(const RawResponse& r) {
  json j;
  try {
    j = json::parse(r.body);
  } catch (const json::exception&) {
    throw DaemonError("the daemon answered " + std::to_string(r.status) + " without JSON",
                      r.status);
  }
  if (j.value("type", "") == "error") {
    throw DaemonError(j.value("error", "unknown error"), j.value("error_code", r.status));
  }
  return j;
}

}  // namespace

json metadata_of(const RawResponse& response) {
  return parse_envelope(response).value("metadata", json());
}

RawResponse DaemonClient::send(const std::string& method, const std::string& target,
                               const std::optional<json>& body) const {
  if (!body) return send_bytes(method, target, {}, {});
  return send_bytes(method, target, body->dump(), {{"Content-Type", "application/json"}});
}

RawResponse DaemonClient::send_bytes(const std::string& method, const std::string& target,
                                     const std::string& body,
                                     const std::map<std::string, std::string>& headers) const {
  asio::io_context context;
  asio::local::stream_protocol::socket socket(context);
  boost::system::error_code ec;
  socket.connect(asio::local::stream_protocol::endpoint(socket_), ec);
  if (ec) {
    throw HostResourceError("no vmm daemon answers at " + socket_ + " (" + ec.message() +
                            "); start one with `sudo vmm daemon` or `systemctl start vmm`");
  }
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, "vmm");
  request.set(http::field::user_agent, "vmm");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  http::write(socket, request, ec);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{1} << 30);
  if (!ec) http::read(socket, buffer, parser, ec);
  if (ec) throw Error("talking to the vmm daemon at " + socket_ + ": " + ec.message());
  RawResponse response{
      .status = parser.get().result_int(), .body = parser.get().body(), .headers = {}};
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    response.headers[name] = std::string(field.value());
  }
  return response;
}

json DaemonClient::call(const std::string& method, const std::string& target,
                        const std::optional<json>& body) const {
  return parse_envelope(send(method, target, body)).value("metadata", json());
}

json DaemonClient::run(const std::string& method, const std::string& target,
                       const std::optional<json>& body) const {
  const json envelope = parse_envelope(send(method, target, body));
  if (envelope.value("type", "") != "async") return envelope.value("metadata", json());
  const std::string op = envelope.value("operation", "");
  for (;;) {
    const json state = call("GET", op + "/wait?timeout=60");
    const std::string status = state.value("status", "");
    if (status == "Success") return state.value("metadata", json());
    if (status == "Failure") {
      throw DaemonError(state.value("err", "the operation failed"), 400);
    }
  }
}

}  // namespace vmm::cli
