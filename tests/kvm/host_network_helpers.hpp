#pragma once
// The host's side of the KVM tests' network exchanges: TAP devices the test makes and deletes,
// a TCP sink that records what a guest sends, and the checksums both sides compare.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kvm_test_support.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string sha256_file(const fs::path& file) {
  const ToolResult r = run_tool({"sha256sum", file.string()}, Clock::now() + 60s);
  if (!r.ok() || r.out.size() < 64) return {};
  return r.out.substr(0, 64);
}

inline void write_random_file(const fs::path& path, uint64_t bytes, uint64_t seed) {
  constexpr uint64_t kMiB = 1024 * 1024;
  std::mt19937_64 rng{seed};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<uint64_t> chunk(kMiB / sizeof(uint64_t));
  for (uint64_t done = 0; done < bytes; done += kMiB) {
    for (auto& word : chunk) word = rng();
    out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(kMiB));
  }
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// A listening IPv4 TCP socket on addr; port 0 picks a free one.
inline UniqueFd listen_on(const std::string& addr, uint16_t port) {
  UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (!fd) throw std::runtime_error("socket() failed");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) {
    throw std::runtime_error("bad address " + addr);
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd.get(), 4) != 0) {
    throw std::runtime_error("cannot listen on " + addr + ":" + std::to_string(port));
  }
  return fd;
}

inline uint16_t local_port(const UniqueFd& fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

// Waits for a connection on a listening socket; an invalid fd when `stop` is set first.
inline UniqueFd accept_until(const UniqueFd& listener, const std::atomic<bool>& stop) {
  while (!stop) {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) > 0)
      return UniqueFd{::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
  }
  return UniqueFd{};
}

inline bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// A host-side TCP server on its own thread; the destructor stops and joins it.
class HostServer {
 public:
  HostServer(const std::string& addr, uint16_t port) : listener_(listen_on(addr, port)) {}
  HostServer(const HostServer&) = delete;
  HostServer& operator=(const HostServer&) = delete;
  virtual ~HostServer() { stop(); }

  [[nodiscard]] uint16_t port() const { return local_port(listener_); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 protected:
  template <typename Serve>
  void start(Serve serve) {
    thread_ = std::thread([this, serve] {
      while (!stop_) {
        UniqueFd conn = accept_until(listener_, stop_);
        if (conn) serve(conn.get());
      }
    });
  }
  std::atomic<bool> stop_{false};

 private:
  UniqueFd listener_;
  std::thread thread_;
};

// Receives one stream per connection into a file, up to the peer's close (the guest's nc).
class TcpSink final : public HostServer {
 public:
  TcpSink(const std::string& addr, fs::path file) : HostServer(addr, 0), file_(std::move(file)) {
    start([this](int fd) {
      std::ofstream out(file_, std::ios::binary | std::ios::trunc);
      std::vector<char> buf(256 * 1024);
      uint64_t total = 0;
      while (!stop_) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        out.write(buf.data(), n);
        total += static_cast<uint64_t>(n);
      }
      out.flush();
      bytes_ = total;
      done_ = true;
    });
  }
  ~TcpSink() override { stop(); }
  [[nodiscard]] bool done() const { return done_; }
  [[nodiscard]] uint64_t bytes() const { return bytes_; }

 private:
  fs::path file_;
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> bytes_{0};
};

inline bool interface_exists(const std::string& name) {
  return run_tool({"ip", "link", "show", "dev", name}, Clock::now() + 30s).ok();
}

// A TAP this test made, with one host address; deleted again on destruction.
class ScopedTap {
 public:
  ScopedTap(std::string name, const std::string& host_cidr, bool multi_queue = false) {
    const auto deadline = Clock::now() + 30s;
    if (interface_exists(name)) {
      throw std::runtime_error("a network interface named " + name +
                               " exists already; refusing to touch it");
    }
    name_ = std::move(name);  // from here on it is ours to delete
    std::vector<std::string> add{"ip", "tuntap", "add", "dev", name_, "mode", "tap"};
    if (multi_queue) add.emplace_back("multi_queue");
    for (const std::vector<std::string>& cmd :
         {add, std::vector<std::string>{"ip", "addr", "add", host_cidr, "dev", name_},
          std::vector<std::string>{"ip", "link", "set", "dev", name_, "up"}}) {
      const ToolResult r = run_tool(cmd, deadline);
      if (!r.ok()) {
        remove();
        throw std::runtime_error("`ip " + cmd[1] + " " + cmd[2] + "` for " + cmd[4] +
                                 " failed: " + r.status.describe() + " " + r.err);
      }
    }
  }
  ScopedTap(const ScopedTap&) = delete;
  ScopedTap& operator=(const ScopedTap&) = delete;
  ~ScopedTap() { remove(); }

 private:
  void remove() noexcept {
    try {
      if (!name_.empty()) (void)run_tool({"ip", "link", "del", "dev", name_}, Clock::now() + 30s);
    } catch (const std::exception&) {
      // Nothing more to do; the test reports interfaces left behind.
    }
    name_.clear();
  }

  std::string name_;
};

}  // namespace vmm::test
