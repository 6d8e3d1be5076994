#pragma once
// The real vmm-agent for a test: listening on a Unix socket in a fresh directory, stopped and
// cleaned up with the object.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

namespace vmm::agent::test {

class AgentProcess final {
 public:
  AgentProcess() {
    namespace fs = std::filesystem;
    std::string pattern = (fs::temp_directory_path() / "vmm-agent-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    // Others may enter: commands run as other users there.
    fs::permissions(dir_, fs::perms(0755));
    socket_ = dir_ / "agent.sock";
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string listen = "unix:" + socket_.string();
      ::execl(VMM_AGENT_BIN, VMM_AGENT_BIN, "--listen", listen.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 400 && !fs::exists(socket_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (!fs::exists(socket_)) throw std::runtime_error(VMM_AGENT_BIN " did not listen");
  }
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;
  ~AgentProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
  [[nodiscard]] const std::filesystem::path& socket() const noexcept { return socket_; }
  [[nodiscard]] bool running() const noexcept { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path socket_;
  pid_t pid_ = -1;
};

}  // namespace vmm::agent::test
