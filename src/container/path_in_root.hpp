#pragma once
// Resolving container paths without ever leaving the container's root.
// The root file system is untrusted: any component may be a symlink or "..". Resolution runs
// in the kernel with openat2(RESOLVE_IN_ROOT), which treats `root_fd` as "/" for every symlink
// and "..", so a destination such as /evil -> ../../../etc lands inside the root.
#include <string>
#include <string_view>
#include <vector>

#include "vmm/common/unique_fd.hpp"

namespace vmm::container {

enum class CreateKind { kNone, kDirectory, kFile };

// Splits an absolute or relative path into its components, dropping "" and ".".
[[nodiscard]] std::vector<std::string> path_components(std::string_view path);

// Opens `path` beneath `root_fd` (O_PATH). Throws vmm::Error on failure; ENOENT is reported
// through `missing` instead when it is non-null.
[[nodiscard]] UniqueFd open_in_root(int root_fd, std::string_view path, bool* missing = nullptr);

// Like open_in_root, but creates missing directories (and the last component as `kind`).
// Creation happens one component at a time relative to an already-resolved parent fd.
[[nodiscard]] UniqueFd open_or_create_in_root(int root_fd, std::string_view path, CreateKind kind);

// "/proc/self/fd/N": lets mount(2) and friends act on exactly the object we resolved.
[[nodiscard]] std::string fd_path(int fd);

}  // namespace vmm::container
