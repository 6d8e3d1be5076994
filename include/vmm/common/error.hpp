#pragma once
// Errors and the process exit statuses they map to. Test farms depend on these numbers;
// they are documented in README.md and in `vmm --help`.
#include <stdexcept>
#include <string>

namespace vmm {

enum class ExitStatus : int {
  kOk = 0,            // guest reset / reboot / triple fault / power-off
  kRuntimeError = 1,  // the VMM failed while running
  kUsageError = 2,    // bad flags, bad files, bad configuration
  kTimeout = 124,     // --timeout expired
};

// Base class of every error the VMM reports to a user: one line, one exit status.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ExitStatus status = ExitStatus::kRuntimeError)
      : std::runtime_error(what), status_(status) {}
  [[nodiscard]] ExitStatus status() const noexcept { return status_; }

 private:
  ExitStatus status_;
};

// Something the user can fix: a bad flag, file or configuration value. Exit status 2.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& what) : Error(what, ExitStatus::kUsageError) {}
};

// A failed system call, with errno's text appended.
[[nodiscard]] Error system_error(const std::string& what, int err);

}  // namespace vmm
