#pragma once
// Parses the value of `--vsock cid=N,socket=PATH` (both keys required, in any order; PATH
// cannot contain a comma). Throws vmm::ConfigError naming the bad part.
#include <string_view>

#include "vmm/config/vsock_config.hpp"

namespace vmm::cli {

[[nodiscard]] VsockConfig parse_vsock_option(std::string_view spec);

}  // namespace vmm::cli
