#pragma once
// The container every `vmm container run` starts from, and helpers to turn flags into it.
#include <cstdint>
#include <string>

#include "container/oci_config.hpp"

namespace vmm::container {

// All namespaces new (plus a user namespace when `rootless`), the default mounts, masked and
// read-only paths, the default capability set, no_new_privs, RLIMIT_NOFILE 1024.
[[nodiscard]] Spec default_spec(bool rootless);

// "512", "64k", "256M", "1G" (binary units). Throws vmm::ConfigError naming `flag`.
[[nodiscard]] uint64_t parse_size(const std::string& text, const std::string& flag);

// "UID" or "UID:GID". Throws vmm::ConfigError.
void parse_user(const std::string& text, User& user);

// The runc `spec` template as JSON text (used by `vmm oci spec`).
[[nodiscard]] std::string spec_template_json(bool rootless);

}  // namespace vmm::container
