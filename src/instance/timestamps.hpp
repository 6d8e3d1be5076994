#pragma once
// Times as the API shows them.
#include <string>

namespace vmm::instance {

// Now, as RFC 3339 in UTC with nanoseconds: 2026-12-03T08:15:02.123456789Z.
[[nodiscard]] std::string rfc3339_now();

}  // namespace vmm::instance
