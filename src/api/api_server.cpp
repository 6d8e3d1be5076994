#include "api/api_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "vmm/common/error.hpp"
#include "vmm/common/unix_socket.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace vmm::api {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Socket = asio::local::stream_protocol::socket;
using Parser = http::request_parser<http::string_body>;

void apply_limits(Parser& parser, const ApiLimits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
}

// The status a parse error deserves.
unsigned status_for(const boost::system::error_code& ec) {
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  return 400;
}

ApiRequest to_request(const http::request<http::string_body>& r) {
  std::map<std::string, std::string> headers;
  for (const auto& field : r) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    headers[name] = std::string(field.value());
  }
  return ApiRequest{.method = std::string(r.method_string()),
                    .target = std::string(r.target()),
                    .body = r.body(),
                    .headers = std::move(headers)};
}

// Whether a server answers at `path` now (a live socket) rather than a stale file.
}  // namespace

ParsedRequest parse_http_request(std::string_view bytes, const ApiLimits& limits) {
  Parser parser;
  apply_limits(parser, limits);
  parser.eager(true);
  boost::system::error_code ec;
  size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const size_t n = parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) break;
    if (ec) return ParsedRequest{.request = std::nullopt, .error_status = status_for(ec)};
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_done()) return ParsedRequest{.request = std::nullopt, .error_status = 0};
  return ParsedRequest{.request = to_request(parser.get()), .error_status = 0};
}

struct ApiServer::Impl {
  std::filesystem::path path;
  AsyncApiHandler handler;
  ApiLimits limits;
  asio::io_context context;
  asio::local::stream_protocol::acceptor acceptor{context};
  std::atomic<size_t> connections{0};
  std::thread thread;

  void accept();
};

namespace {

// One client connection: requests are read whole within the limits, answered in order, and
// the connection closes on any error, a timeout or `Connection: close`.
class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, ApiServer::Impl& server)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), server_(server) {
    ++server_.connections;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() { --server_.connections; }

  void read_next() {
    parser_.emplace();
    apply_limits(*parser_, server_.limits);
    timer_.expires_after(std::chrono::milliseconds(server_.limits.request_timeout_ms));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close();  // the request did not arrive in time: drop the client
    });
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       self->on_read(ec);
                     });
  }

 private:
  void on_read(const boost::system::error_code& ec) {
    timer_.cancel();
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::eof || ec == asio::error::connection_reset) {
      close();
      return;
    }
    if (ec) {
      respond(error_response(status_for(ec), std::string("bad request: ") + ec.message()), false);
      return;
    }
    const auto& request = parser_->get();
    const bool keep_alive = request.keep_alive();
    // The reply may come from another thread, later: it is carried back to this session's
    // executor. The request timer stays off meanwhile; the answer may take as long as it takes.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    ApiReply reply = [self = shared_from_this(), keep_alive, answered](ApiResponse response) {
      if (answered->exchange(true)) return;
      asio::post(self->socket_.get_executor(),
                 [self, keep_alive, response = std::move(response)]() mutable {
                   self->respond(std::move(response), keep_alive);
                 });
    };
    try {
      server_.handler(to_request(request), reply);
    } catch (const std::exception& e) {
      reply(error_response(500, e.what()));
    }
  }

  void respond(ApiResponse r, bool keep_alive) {
    response_.emplace();
    response_->version(11);
    response_->result(r.status);
    response_->set(http::field::server, "vmm");
    if (!r.allow.empty()) response_->set(http::field::allow, r.allow);
    for (const auto& [name, value] : r.headers) response_->set(name, value);
    if (!r.body.empty()) {
      response_->set(http::field::content_type,
                     r.content_type.empty() ? "application/json" : r.content_type);
    }
    response_->body() = std::move(r.body);
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    timer_.expires_after(std::chrono::milliseconds(server_.limits.request_timeout_ms));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close();  // the client does not read its answer
    });
    http::async_write(
        socket_, *response_,
        [self = shared_from_this(), keep_alive](const boost::system::error_code& ec, size_t) {
          self->timer_.cancel();
          if (ec || !keep_alive) {
            self->close();
            return;
          }
          self->read_next();
        });
  }

  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Socket socket_;
  asio::steady_timer timer_;
  ApiServer::Impl& server_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::optional<http::response<http::string_body>> response_;
};

}  // namespace

void ApiServer::Impl::accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, Socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (connections.load() >= limits.max_connections) {
        SPDLOG_DEBUG("api: connection limit reached, dropping a client");
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), *this)->read_next();
      }
    }
    accept();
  });
}

ApiServer::ApiServer(std::filesystem::path socket_path, ApiHandler handler, ApiLimits limits)
    : ApiServer(std::move(socket_path),
                AsyncApiHandler([handler = std::move(handler)](const ApiRequest& request,
                                                               const ApiReply& reply) {
                  reply(handler(request));
                }),
                limits) {}

ApiServer::ApiServer(std::filesystem::path socket_path, AsyncApiHandler handler, ApiLimits limits)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.path = std::move(socket_path);
  s.handler = std::move(handler);
  s.limits = limits;
  if (s.path.native().size() >= sizeof(sockaddr_un::sun_path)) {
    throw ConfigError("api-socket", s.path.string() + " is too long for a Unix socket path");
  }
  claim_unix_socket_path(s.path);
  boost::system::error_code ec;
  s.acceptor.open(asio::local::stream_protocol(), ec);
  // The mode comes from the umask at bind time: 0600 from the start, no window.
  const mode_t old_umask = ::umask(0177);
  if (!ec) s.acceptor.bind(asio::local::stream_protocol::endpoint(s.path.string()), ec);
  ::umask(old_umask);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw HostResourceError("cannot listen on " + s.path.string() + ": " + ec.message());
  s.accept();
  s.thread = std::thread([&s] {
    confine::confine_this_thread(confine::ThreadKind::kApi);
    for (;;) {
      try {
        s.context.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("api: {}", e.what());
      }
    }
  });
  ::pthread_setname_np(s.thread.native_handle(), "api");
}

void ApiServer::stop() {
  Impl& s = *impl_;
  s.context.stop();
  if (s.thread.joinable()) s.thread.join();
}

ApiServer::~ApiServer() {
  Impl& s = *impl_;
  stop();
  boost::system::error_code ignored;
  s.acceptor.close(ignored);
  ::unlink(s.path.c_str());
}

const std::filesystem::path& ApiServer::path() const noexcept { return impl_->path; }

}  // namespace vmm::api
