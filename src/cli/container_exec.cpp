#include "cli/container_exec.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "container/runtime.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {

bool wants_terminal(TerminalMode mode) {
  return mode == TerminalMode::kAlways ||
         (mode == TerminalMode::kAuto && ::isatty(STDIN_FILENO) == 1 &&
          ::isatty(STDOUT_FILENO) == 1);
}

int exec_in_container(const std::filesystem::path& runtime_root, const std::string& name,
                      const instance::ExecOptions& options, TerminalMode mode) {
  const container::ContainerInfo info =
      container::ContainerRuntime(runtime_root.string()).state(name);
  if (info.status != container::Status::kRunning) {
    throw StateError("instance " + name + " is not running");
  }
  if (const int status = instance::ContainerBackend::command_status(info.record.rootfs, options);
      status != 0) {
    const std::string message = instance::ContainerBackend::command_status_message(options, status);
    std::fputs(message.c_str(), stderr);
    return status;
  }
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the vmm binary (/proc/self/exe): " + ec.message());
  const std::vector<std::string> argv = instance::ContainerBackend::exec_argv(
      self, runtime_root, name, options, wants_terminal(mode));
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  // The runtime's exec replaces this process: it forwards signals, relays the pty and exits
  // with the command's status.
  std::fflush(nullptr);
  ::execv(args[0], args.data());
  throw system_error("cannot run " + argv[0], errno);
}

}  // namespace vmm::cli
