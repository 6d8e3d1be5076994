#pragma once
// HTTP/1.1 over a Unix socket (Boost.Beast), on an io_context and thread of its own: the API
// must keep answering while the VM is paused, and a paused VM holds its device event loop.
//
// The socket is created mode 0600. A live socket at the path (another vmm answers there) is
// refused; a stale one (nobody listening) is replaced. It is removed when the server goes.
// Every client is bounded: header and body sizes, the time a request may take to arrive
// whole, and the number of connections, so a slow, silent or hostile client never holds the
// server, other clients or the VM.
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "api/api_types.hpp"

namespace vmm::api {

using ApiHandler = std::function<ApiResponse(const ApiRequest&)>;
// A handler that answers later: it calls `reply` exactly once, from any thread. A request that
// waits (an operation's /wait) then holds no server thread.
using ApiReply = std::function<void(ApiResponse)>;
using AsyncApiHandler = std::function<void(const ApiRequest&, ApiReply reply)>;

class ApiServer final {
 public:
  // Binds and listens, then serves on a new thread. Throws vmm::HostResourceError when the
  // path is taken by a live server or cannot be bound.
  ApiServer(std::filesystem::path socket_path, ApiHandler handler, ApiLimits limits = {});
  ApiServer(std::filesystem::path socket_path, AsyncApiHandler handler, ApiLimits limits = {});
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;
  ~ApiServer();  // stops serving, joins the thread, removes the socket

  // Stops serving and joins the thread; replies that come later are dropped. For owners whose
  // handler answers from other threads: stop the server, then what answers, then destroy it.
  void stop();

  [[nodiscard]] const std::filesystem::path& path() const noexcept;

  struct Impl;  // opaque; defined in api_server.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

// One request parsed from raw bytes with the server's limits: the request when the bytes hold a
// whole valid one, else the HTTP status the server would answer (400 malformed, 413 too large,
// 431 headers too large) or 0 when more bytes are needed. For tests and fuzzing.
struct ParsedRequest {
  std::optional<ApiRequest> request;
  unsigned error_status = 0;
};
[[nodiscard]] ParsedRequest parse_http_request(std::string_view bytes, const ApiLimits& limits);

}  // namespace vmm::api
