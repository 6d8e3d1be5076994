#pragma once
// Parses the value of `--net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]` or
// `--net user[,hostfwd=tcp:[ADDR]:PORT-:PORT]...[,mac=...]`.
// Throws vmm::ConfigError naming the bad part.
#include <string_view>

#include "vmm/config/net_config.hpp"

namespace vmm::cli {

[[nodiscard]] virtio::NetConfig parse_net_option(std::string_view spec);

}  // namespace vmm::cli
