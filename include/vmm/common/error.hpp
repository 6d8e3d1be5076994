#pragma once
// Errors a user can meet, each of a kind that says whose problem it is. Front ends decide what a
// kind means to their caller: the CLI maps it to a documented exit status (README.md, `vmm
// --help`), an API to an HTTP status. Core code never names an exit status or a CLI flag.
#include <stdexcept>
#include <string>

namespace vmm {

enum class ErrorKind {
  kInvalidConfig,  // something the user can fix: a bad value, file or combination
  kHostResource,   // the host lacks what the VM needs: no /dev/kvm, no memory, a busy image
  kRuntime,        // the VMM failed while creating or running the VM
  kInvalidState,   // the request does not fit the VM's state (pausing a paused VM)
  kNotFound,       // the named thing (an instance, an image, a snapshot) does not exist
};

// The process exit statuses of the front ends. Test farms depend on these numbers.
enum class ExitStatus : int {
  kOk = 0,            // guest reset / reboot / triple fault / power-off
  kRuntimeError = 1,  // the VMM failed while running
  kUsageError = 2,    // bad flags, bad files, bad configuration, a missing host resource
  kGuestPanic = 4,    // the guest kernel panicked (pvpanic), whatever its panic= says
  kTimeout = 124,     // --timeout expired
};

// Base class of every error the VMM reports to a user: one line, one kind.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ErrorKind kind = ErrorKind::kRuntime)
      : std::runtime_error(what), kind_(kind) {}
  [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// Something the user can fix: a bad flag, file or configuration value. With a field, the
// message reads "field: problem" and front ends may show the field their own way (a CLI flag,
// a JSON path).
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& what) : Error(what, ErrorKind::kInvalidConfig) {}
  ConfigError(const std::string& field, const std::string& problem)
      : Error(field + ": " + problem, ErrorKind::kInvalidConfig),
        field_(field),
        problem_(problem) {}

  [[nodiscard]] const std::string& field() const noexcept { return field_; }  // may be empty
  [[nodiscard]] const std::string& problem() const noexcept { return problem_; }

 private:
  std::string field_;
  std::string problem_;
};

// The host cannot provide what the VM needs (KVM, memory, a device node, a busy resource).
class HostResourceError : public Error {
 public:
  explicit HostResourceError(const std::string& what) : Error(what, ErrorKind::kHostResource) {}
};

// A request that the object's current state does not allow (resume a running VM).
class StateError : public Error {
 public:
  explicit StateError(const std::string& what) : Error(what, ErrorKind::kInvalidState) {}
};

// A named object (an instance, an image, a snapshot) that does not exist.
class NotFoundError : public Error {
 public:
  explicit NotFoundError(const std::string& what) : Error(what, ErrorKind::kNotFound) {}
};

// A failed system call, with errno's text appended.
[[nodiscard]] Error system_error(const std::string& what, int err);

}  // namespace vmm
