#include "container/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "container/process_setup.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::container {
namespace {

void run_one(const Hook& hook, const std::string& state_json, const std::string& phase) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw system_error("pipe", errno);
  UniqueFd rd(pipefd[0]);
  UniqueFd wr(pipefd[1]);
  std::vector<std::string> args =
      hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw system_error("fork for hook", errno);
  if (pid == 0) {
    ::dup2(rd.get(), 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    try {
      close_fds_on_exec(3);
    } catch (...) {
    }
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  rd.reset();
  // The hook may not read its stdin at all; a short write must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  (void)!::write(wr.get(), state_json.data(), state_json.size());
  wr.reset();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(hook.timeout_s.value_or(3600));
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) throw system_error("waitpid hook", errno);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw Error(phase + " hook " + hook.path + " timed out");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    throw Error(phase + " hook " + hook.path + " failed with status " + std::to_string(code));
  }
}

}  // namespace

void run_hooks(const std::vector<Hook>& hooks, const std::string& state_json,
               const std::string& phase) {
  for (const auto& h : hooks) run_one(h, state_json, phase);
}

void run_hooks_logged(const std::vector<Hook>& hooks, const std::string& state_json,
                      const std::string& phase) noexcept {
  for (const auto& h : hooks) {
    try {
      run_one(h, state_json, phase);
    } catch (const std::exception& e) {
      spdlog::warn("{}", e.what());
    }
  }
}

}  // namespace vmm::container
