#pragma once
// The naming rules of instances and snapshots (LXD's): what a user may call them, checked
// before anything is created.
#include <string>
#include <string_view>

namespace vmm::instance {

// 1-63 characters of letters, digits and '-', starting with a letter and not ending with '-'
// (a valid host name label). Throws vmm::ConfigError naming the problem.
void validate_instance_name(const std::string& name);

// 1-63 characters, no '/', and not "." or "..". Throws vmm::ConfigError.
void validate_snapshot_name(const std::string& name);

// An image alias: 1-255 printable characters, no '/' at the ends, no whitespace, not all
// hexadecimal (that would read as a fingerprint). Throws vmm::ConfigError.
void validate_image_alias(const std::string& alias);

// Eight hex digits naming `text` in places that allow few characters (interface names, cgroup
// directories): FNV-1a, stable across runs.
[[nodiscard]] std::string short_hash(std::string_view text);

}  // namespace vmm::instance
