#include "daemon/error_status.hpp"

#include "vmm/common/error.hpp"

namespace vmm::daemon {

unsigned http_status_of(const std::exception& e) noexcept {
  const auto* error = dynamic_cast<const Error*>(&e);
  if (error == nullptr) return 500;
  switch (error->kind()) {
    case ErrorKind::kInvalidConfig:
      return 400;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kInvalidState:
      return 409;
    case ErrorKind::kHostResource:
      return 503;
    case ErrorKind::kRuntime:
      break;
  }
  return 500;
}

}  // namespace vmm::daemon
