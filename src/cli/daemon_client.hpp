#pragma once
// The CLI's side of the daemon's REST API: one HTTP/1.1 request per call over the Unix socket,
// LXD's envelopes unwrapped, operations waited for.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm::cli {

// An error the daemon answered with (its message and HTTP status).
class DaemonError : public Error {
 public:
  DaemonError(const std::string& what, unsigned status)
      : Error(what, status == 404   ? ErrorKind::kNotFound
                    : status == 400 ? ErrorKind::kInvalidConfig
                    : status == 409 ? ErrorKind::kInvalidState
                                    : ErrorKind::kRuntime),
        status_(status) {}
  [[nodiscard]] unsigned status() const noexcept { return status_; }

 private:
  unsigned status_;
};

struct RawResponse {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // by lower-case name
};

// A response's envelope unwrapped: its metadata, or DaemonError with the daemon's error.
[[nodiscard]] nlohmann::json metadata_of(const RawResponse& response);

class DaemonClient final {
 public:
  explicit DaemonClient(std::string socket_path) : socket_(std::move(socket_path)) {}

  // Sends a request; vmm::HostResourceError naming the socket (and how to start the daemon)
  // when nobody answers there.
  [[nodiscard]] RawResponse send(const std::string& method, const std::string& target,
                                 const std::optional<nlohmann::json>& body = std::nullopt) const;
  // A request with a body of raw bytes and header fields of its own (a file push).
  [[nodiscard]] RawResponse send_bytes(const std::string& method, const std::string& target,
                                       const std::string& body,
                                       const std::map<std::string, std::string>& headers) const;
  // A sync request: its metadata, or DaemonError.
  [[nodiscard]] nlohmann::json call(const std::string& method, const std::string& target,
                                    const std::optional<nlohmann::json>& body = std::nullopt) const;
  // An async request, waited for: the operation's metadata, or DaemonError with its error.
  nlohmann::json run(const std::string& method, const std::string& target,
                     const std::optional<nlohmann::json>& body = std::nullopt) const;

 private:
  std::string socket_;
};

}  // namespace vmm::cli
