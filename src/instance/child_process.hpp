#pragma once
// Runs helper programs (tar, cp, mount, the container runtime) for the instance manager. A
// daemon is multithreaded, so nothing non-trivial runs between fork and exec: posix_spawn with
// the child's stdio given as file descriptors; every other descriptor is closed in the child.
#include <filesystem>
#include <string>
#include <vector>

namespace vmm::instance {

// Where a child's stdio goes: -1 is /dev/null.
struct ChildIo {
  int in = -1;
  int out = -1;
  int err = -1;
};

// Runs argv (argv[0] looked up in PATH) and waits for it. The exit status as a shell reports it:
// the code, or 128 + the signal. Throws vmm::Error when it cannot be started.
int run_child(const std::vector<std::string>& argv, ChildIo io = {});

struct CapturedRun {
  int status = 0;
  std::string output;  // stdout and stderr together
};
// Runs argv with stdout and stderr captured (stdin /dev/null).
[[nodiscard]] CapturedRun run_captured(const std::vector<std::string>& argv);

// Runs argv and throws vmm::Error("WHAT: <last line of its output>") unless it exits 0.
void run_checked(const std::vector<std::string>& argv, const std::string& what);

// Copies a tree with everything a root file system has (owners, modes, links, devices, xattrs),
// sharing blocks where the file system can (cp -a --reflink=auto). vmm::Error on failure.
void copy_tree(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace vmm::instance
