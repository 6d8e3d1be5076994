#pragma once
// Parses the value of
// `--disk PATH[,readonly=on|off][,snapshot=on|off][,serial=ID][,cache=writeback|none]`.
// Throws vmm::ConfigError naming the bad part.
#include <string_view>

#include "vmm/config/block_config.hpp"

namespace vmm::cli {

[[nodiscard]] virtio::BlockDeviceConfig parse_disk_option(std::string_view spec);

}  // namespace vmm::cli
