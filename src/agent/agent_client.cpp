#include "agent/agent_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "agent/frame_io.hpp"

namespace vmm::agent {
namespace {

using namespace std::chrono_literals;

// Output waiting for the socket: reading more input stops above this, so memory stays bounded.
constexpr size_t kMaxQueued = 4 * kDataChunk;

[[noreturn]] void throw_agent_error(const Frame& frame) {
  const auto report = parse_error(frame);
  const std::string message = "guest agent: " + report.message;
  if (report.error_number == ENOENT) throw NotFoundError(message);
  throw Error(message);
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw system_error("guest agent: fcntl", errno);
  }
}

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// Frames waiting to be written to the non-blocking stream.
class OutQueue final : public ExecChannel {
 public:
  void add(FrameType type, std::span<const uint8_t> payload = {}) {
    encode_frame(type, payload, bytes_);
  }
  void resize(uint16_t rows, uint16_t cols) override {
    add(FrameType::kResize, encode_window_size({rows, cols}));
  }
  void signal(int signo) override {
    add(FrameType::kSignal, encode_u32(static_cast<uint32_t>(signo)));
  }
  [[nodiscard]] size_t size() const noexcept { return bytes_.size() - sent_; }
  // Writes what the stream takes now.
  void flush(int fd) {
    while (size() > 0) {
      const ssize_t n = ::write(fd, bytes_.data() + sent_, size());
      if (n > 0) {
        sent_ += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else if (n < 0 && errno != EINTR) {
        throw system_error("guest agent: write", errno);
      }
    }
    if (sent_ == bytes_.size()) {
      bytes_.clear();
      sent_ = 0;
    }
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t sent_ = 0;
};

}  // namespace

UniqueFd connect_unix(const std::filesystem::path& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw system_error("socket", errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.size() >= sizeof address.sun_path) throw Error(text + ": socket path is too long");
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  int rc = 0;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) throw system_error("connect " + text, errno);
  return fd;
}

UniqueFd connect_through_vsock(const std::filesystem::path& socket, uint32_t port,
                               std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  UniqueFd fd = connect_unix(socket);
  set_nonblocking(fd.get());
  const std::string request = "CONNECT " + std::to_string(port) + "\n";
  try {
    write_all(fd.get(), bytes_of(request), deadline);
  } catch (const Error& e) {
    throw Error(socket.string() + ": vsock port " + std::to_string(port) + ": " + e.what());
  }
  // Byte by byte: what follows the answer line is the guest's and must stay in the stream.
  std::string line;
  while (line.size() < 64) {
    char c = 0;
    const ssize_t n = ::read(fd.get(), &c, 1);
    if (n == 1) {
      if (c == '\n') break;
      line.push_back(c);
    } else if (n == 0) {
      throw Error(socket.string() + ": the VMM refused vsock port " + std::to_string(port) +
                  " (nothing listens there in the guest?)");
    } else if (errno == EAGAIN) {
      pollfd pfd{fd.get(), POLLIN, 0};
      if (::poll(&pfd, 1, poll_timeout(deadline)) == 0) {
        throw Error(socket.string() + ": no answer to CONNECT " + std::to_string(port) +
                    " in time");
      }
    } else if (errno != EINTR) {
      throw system_error(socket.string() + ": read", errno);
    }
  }
  if (!line.starts_with("OK ")) {
    throw Error(socket.string() + ": the VMM refused vsock port " + std::to_string(port) + ": " +
                line.substr(0, 60));
  }
  return fd;
}

AgentConnection AgentConnection::open(UniqueFd stream, std::chrono::milliseconds timeout) {
  set_nonblocking(stream.get());
  FrameDecoder decoder;
  const auto frame = read_frame(stream.get(), decoder, Clock::now() + timeout);
  if (!frame) throw Error("guest agent: the connection closed before HELLO");
  if (frame->type == FrameType::kError) throw_agent_error(*frame);
  if (frame->type != FrameType::kHello) {
    throw ProtocolError("expected HELLO, got " + frame_type_name(frame->type));
  }
  AgentInfo info = parse_hello(*frame);
  if (info.protocol_version != kProtocolVersion) {
    throw Error("guest agent " + info.agent_version + " speaks protocol " +
                std::to_string(info.protocol_version) + ", this vmm speaks " +
                std::to_string(kProtocolVersion));
  }
  return {std::move(stream), std::move(info), std::move(decoder)};
}

void AgentConnection::start_request() {
  if (used_) throw StateError("guest agent: a connection serves one request; open another");
  used_ = true;
}

Frame AgentConnection::read_answer(const char* request) {
  auto frame = read_frame(stream_.get(), decoder_);
  if (!frame) throw Error(std::string("guest agent: the connection closed during ") + request);
  if (frame->type == FrameType::kError) throw_agent_error(*frame);
  return std::move(*frame);
}

int AgentConnection::exec(const ExecRequest& request, const ExecIo& io) {
  return exec(request, io, ExecControl{});
}

int AgentConnection::exec(const ExecRequest& request, const ExecIo& io,
                          const ExecControl& control) {
  start_request();
  const int stream = stream_.get();
  OutQueue out;
  out.add(FrameType::kExec, bytes_of(encode_exec(request)));
  bool stdin_open = io.stdin_fd >= 0;
  if (!stdin_open) out.add(FrameType::kStdinEof);
  std::array<uint8_t, kDataChunk> buffer{};
  for (;;) {
    // Frames already here first: EXIT ends the run.
    while (auto frame = decoder_.next()) {
      switch (frame->type) {
        case FrameType::kStdout:
        case FrameType::kStderr: {
          const int fd = frame->type == FrameType::kStdout ? io.stdout_fd : io.stderr_fd;
          if (fd >= 0) write_all(fd, frame->payload);
          break;
        }
        case FrameType::kStdoutEof:
        case FrameType::kStderrEof:
          break;
        case FrameType::kExit: {
          const uint32_t status = parse_u32(*frame);
          if (status > 255) throw ProtocolError("EXIT status " + std::to_string(status));
          return static_cast<int>(status);
        }
        case FrameType::kError:
          throw_agent_error(*frame);
        default:
          throw ProtocolError("unexpected " + frame_type_name(frame->type) + " during EXEC");
      }
    }
    out.flush(stream);

    std::array<pollfd, 3> fds{};
    nfds_t count = 0;
    fds[count++] = {stream, static_cast<short>(POLLIN | (out.size() > 0 ? POLLOUT : 0)), 0};
    const bool want_input = stdin_open && out.size() < kMaxQueued;
    const nfds_t input = want_input ? count++ : 0;
    if (want_input) fds[input] = {io.stdin_fd, POLLIN, 0};
    const nfds_t extra = control.fd >= 0 ? count++ : 0;
    if (control.fd >= 0) fds[extra] = {control.fd, POLLIN, 0};
    if (::poll(fds.data(), count, -1) < 0) {
      if (errno == EINTR) continue;
      throw system_error("guest agent: poll", errno);
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::read(stream, buffer.data(), buffer.size());
      if (n > 0) {
        decoder_.feed(std::span(buffer.data(), static_cast<size_t>(n)));
      } else if (n == 0) {
        throw Error("guest agent: the connection closed before the command's exit status");
      } else if (errno != EINTR && errno != EAGAIN) {
        throw system_error("guest agent: read", errno);
      }
    }
    // Control first: a window size changed before a key was typed reaches the agent before it.
    if (control.fd >= 0 && fds[extra].revents != 0 && control.on_ready) control.on_ready(out);
    if (want_input && fds[input].revents != 0) {
      const ssize_t n = ::read(io.stdin_fd, buffer.data(), buffer.size());
      if (n > 0) {
        out.add(FrameType::kStdin, std::span(buffer.data(), static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        // End of input, or an input that failed (a hung-up terminal): the command sees EOF.
        out.add(FrameType::kStdinEof);
        stdin_open = false;
      }
    }
  }
}

void AgentConnection::push_file(const std::string& path, const FileInfo& info,
                                std::span<const uint8_t> content) {
  start_request();
  send_frame(stream_.get(), FrameType::kFilePush, encode_file_push(path, info));
  // The agent reads everything before it answers, so blocking writes cannot deadlock.
  while (!content.empty()) {
    const auto chunk = content.first(std::min(content.size(), kDataChunk));
    send_frame(stream_.get(), FrameType::kFileData, chunk);
    content = content.subspan(chunk.size());
  }
  send_frame(stream_.get(), FrameType::kFileEnd);
  const Frame answer = read_answer("FILE_PUSH");
  if (answer.type != FrameType::kOk) {
    throw ProtocolError("unexpected " + frame_type_name(answer.type) + " after FILE_PUSH");
  }
}

FileInfo AgentConnection::pull_file(const std::string& path, std::vector<uint8_t>& content,
                                    size_t max_bytes) {
  start_request();
  send_frame(stream_.get(), FrameType::kFilePull, encode_path(path));
  const Frame first = read_answer("FILE_PULL");
  if (first.type != FrameType::kFileInfo) {
    throw ProtocolError("unexpected " + frame_type_name(first.type) + " after FILE_PULL");
  }
  auto [info, size] = parse_file_info(first);
  const std::string too_large =
      "guest agent: " + path + " is over the limit of " + std::to_string(max_bytes) + " bytes";
  if (size > max_bytes) throw Error(too_large);
  content.clear();
  for (;;) {
    const Frame frame = read_answer("FILE_PULL");
    if (frame.type == FrameType::kFileEnd) return info;
    if (frame.type != FrameType::kFileData) {
      throw ProtocolError("unexpected " + frame_type_name(frame.type) + " during FILE_PULL");
    }
    if (frame.payload.size() > max_bytes - content.size()) throw Error(too_large);
    content.insert(content.end(), frame.payload.begin(), frame.payload.end());
  }
}

void AgentConnection::delete_file(const std::string& path) {
  start_request();
  send_frame(stream_.get(), FrameType::kFileDelete, encode_path(path));
  const Frame answer = read_answer("FILE_DELETE");
  if (answer.type != FrameType::kOk) {
    throw ProtocolError("unexpected " + frame_type_name(answer.type) + " after FILE_DELETE");
  }
}

bool wait_for_agent(const std::filesystem::path& vsock_socket, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    try {
      auto connection =
          AgentConnection::open(connect_through_vsock(vsock_socket, kAgentPort, left), left);
      return true;
    } catch (const Error&) {
      // Not up yet: the VM's socket, the guest's vsock or the agent.
    }
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(100ms, left));
  }
}

}  // namespace vmm::agent
