#pragma once
// `vmm file push|pull|delete`: files in a container instance through the daemon's /files
// endpoint, as `lxc file` does it (NAME/PATH names a path in an instance; '-' is stdin or
// stdout; a target ending in '/' takes the source's base name).
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cli/daemon_client.hpp"

namespace vmm::cli {

class FileCommand final {
 public:
  // Adds `file` and its subcommands to `app`.
  explicit FileCommand(CLI::App& app);
  [[nodiscard]] bool parsed() const;
  // Runs the parsed subcommand; vmm's exit status. vmm::Error (or DaemonError) on failure.
  int run(const DaemonClient& client) const;

 private:
  int push(const DaemonClient& client) const;
  int pull(const DaemonClient& client) const;
  int remove(const DaemonClient& client) const;

  CLI::App* file_ = nullptr;
  CLI::App* push_ = nullptr;
  CLI::App* pull_ = nullptr;
  CLI::App* delete_ = nullptr;
  std::string source_;
  std::string target_;
  std::optional<unsigned> uid_;
  std::optional<unsigned> gid_;
  std::string mode_;
};

}  // namespace vmm::cli
