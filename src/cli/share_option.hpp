#pragma once
// Parses the value of `--share PATH,tag=NAME[,readonly=on]`: a host directory (which must
// exist; PATH cannot contain a comma) the guest mounts as NAME over virtio-9p. Throws
// vmm::ConfigError naming the bad part.
#include <string_view>

#include "vmm/config/share_config.hpp"

namespace vmm::cli {

[[nodiscard]] ShareConfig parse_share_option(std::string_view spec);

}  // namespace vmm::cli
