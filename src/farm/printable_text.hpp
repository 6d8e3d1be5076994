#pragma once
// Console text as reports can carry it: valid UTF-8 without control characters other than tab
// and newline (XML 1.0 forbids them, JSON writers reject bad UTF-8). Whatever the guest wrote,
// the reports stay well-formed.
#include <string>
#include <string_view>

namespace vmm::farm {

// Bytes that are not UTF-8, and control characters, become U+FFFD; "\r\n" becomes "\n".
[[nodiscard]] std::string printable_text(std::string_view text);

}  // namespace vmm::farm
