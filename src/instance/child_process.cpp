#include "instance/child_process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, declared by no header

namespace vmm::instance {
namespace {

// posix_spawn's file actions, released on every path.
class FileActions final {
 public:
  FileActions() { ::posix_spawn_file_actions_init(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  ~FileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_{};
};

pid_t spawn(const std::vector<std::string>& argv, ChildIo io) {
  if (argv.empty()) throw Error("run: no program given");
  FileActions actions;
  const int fds[3] = {io.in, io.out, io.err};
  for (int target = 0; target < 3; ++target) {
    if (fds[target] >= 0) {
      ::posix_spawn_file_actions_adddup2(actions.get(), fds[target], target);
    } else {
      ::posix_spawn_file_actions_addopen(actions.get(), target, "/dev/null",
                                         target == 0 ? O_RDONLY : O_WRONLY, 0);
    }
  }
  // Nothing else of the daemon's leaks into the child, even a descriptor opened without
  // O_CLOEXEC (the API's listening socket): a VM that outlives the daemon would hold it.
  ::posix_spawn_file_actions_addclosefrom_np(actions.get(), 3);
  // The child starts with default signal dispositions and an empty mask, whatever the daemon's
  // threads block.
  posix_spawnattr_t attr{};
  ::posix_spawnattr_init(&attr);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, args[0], actions.get(), &attr, args.data(), environ);
  ::posix_spawnattr_destroy(&attr);
  if (err != 0) throw system_error("cannot run " + argv[0], err);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw system_error("waitpid", errno);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int run_child(const std::vector<std::string>& argv, ChildIo io) {
  return wait_for(spawn(argv, io));
}

CapturedRun run_captured(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw system_error("pipe", errno);
  UniqueFd read_end(pipe_fds[0]);
  pid_t pid = 0;
  {
    UniqueFd write_end(pipe_fds[1]);
    pid = spawn(argv, ChildIo{.in = -1, .out = write_end.get(), .err = write_end.get()});
  }
  CapturedRun run;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    // Helpers are chatty at worst; keep the tail that explains a failure.
    run.output.append(buffer, static_cast<size_t>(n));
    constexpr size_t kKeep = size_t{32} * 1024;
    if (run.output.size() > 2 * kKeep) run.output.erase(0, run.output.size() - kKeep);
  }
  run.status = wait_for(pid);
  return run;
}

void run_checked(const std::vector<std::string>& argv, const std::string& what) {
  const CapturedRun run = run_captured(argv);
  if (run.status == 0) return;
  std::string last = run.output;
  while (!last.empty() && (last.back() == '\n' || last.back() == ' ')) last.pop_back();
  if (const auto nl = last.rfind('\n'); nl != std::string::npos) last = last.substr(nl + 1);
  if (last.empty()) last = argv[0] + " exited with status " + std::to_string(run.status);
  throw Error(what + ": " + last);
}

void copy_tree(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::create_directories(to);
  run_checked({"cp", "-a", "--reflink=auto", from.string() + "/.", to.string()},
              "cannot copy " + from.string());
}

}  // namespace vmm::instance
