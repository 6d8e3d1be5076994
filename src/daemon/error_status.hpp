#pragma once
// The HTTP status an error deserves in the daemon's API.
#include <exception>

namespace vmm::daemon {

// 400 what the caller can fix, 404 an unknown instance, image or snapshot, 409 a conflict with
// the current state (a duplicate name, stopping a stopped instance), 503 a missing host
// resource, 500 anything else.
[[nodiscard]] unsigned http_status_of(const std::exception& e) noexcept;

}  // namespace vmm::daemon
