#pragma once
// The message channel between the runtime and the container's init while it is set up
// (a SOCK_SEQPACKET pair: one message per send, file descriptors ride along).
#include <cstdint>
#include <string>
#include <utility>

#include "vmm/common/unique_fd.hpp"

namespace vmm::container {

enum class SyncMessage : uint8_t {
  kGo = 1,               // runtime -> init: continue
  kNamespacesReady = 2,  // init -> runtime: namespaces exist, run the runtime-side hooks
  kTerminal = 3,         // init -> runtime: the pty master (fd attached)
  kReady = 4,            // init -> runtime: set up, waiting for start (or exec'ing)
  kError = 5,            // init -> runtime: payload is the error line
  kUserError = 6,        // init -> runtime: the same, for a vmm::ConfigError (exit status 2)
};

struct Received {
  SyncMessage type = SyncMessage::kError;
  std::string payload;
  UniqueFd fd;
  bool eof = false;  // the other side closed (for init: exec succeeded or it died)
};

class SyncChannel final {
 public:
  // Returns {runtime end, init end}, both close-on-exec.
  static std::pair<SyncChannel, SyncChannel> make_pair();
  SyncChannel() = default;
  explicit SyncChannel(UniqueFd fd) : fd_(std::move(fd)) {}

  void send(SyncMessage type, const std::string& payload = {}, int fd = -1) const;
  [[nodiscard]] Received receive() const;
  // Receives and throws for kError (vmm::Error), kUserError (vmm::ConfigError), EOF, or any
  // type other than `expected`.
  Received expect(SyncMessage expected) const;
  // Throws the error a kError/kUserError message carries; returns otherwise.
  static void rethrow_if_error(const Received& r);
  // Sends the exception being handled as kError/kUserError; never throws.
  void send_current_exception() const noexcept;
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  void close() noexcept { fd_.reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace vmm::container
