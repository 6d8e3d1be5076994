#include "cli/disk_option.hpp"

#include <charconv>
#include <string>

#include "cli/option_list.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

bool parse_bool(std::string_view key, std::string_view value) {
  if (value == "on" || value == "true" || value == "yes" || value == "1") return true;
  if (value == "off" || value == "false" || value == "no" || value == "0") return false;
  throw ConfigError("--disk: " + std::string(key) + "=" + std::string(value) + " is not on or off");
}

unsigned parse_queue_count(std::string_view value) {
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n == 0 ||
      n > virtio::kMaxBlockQueues) {
    throw ConfigError("--disk: queues=" + std::string(value) + " is not a number from 1 to " +
                      std::to_string(virtio::kMaxBlockQueues));
  }
  return n;
}

}  // namespace

virtio::BlockDeviceConfig parse_disk_option(std::string_view spec) {
  virtio::BlockDeviceConfig disk;
  bool first = true;
  for (const std::string_view part : split_option_list(spec)) {
    if (first) {
      if (part.empty()) throw ConfigError("--disk: missing image path");
      disk.path = std::string(part);
      first = false;
    } else {
      const size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        throw ConfigError("--disk: '" + std::string(part) + "' is not KEY=VALUE");
      }
      const std::string_view key = part.substr(0, eq);
      const std::string_view value = part.substr(eq + 1);
      if (key == "readonly" || key == "ro") {
        disk.read_only = parse_bool(key, value);
      } else if (key == "snapshot") {
        disk.snapshot = parse_bool(key, value);
      } else if (key == "serial") {
        if (value.size() > 20) {
          throw ConfigError("--disk: serial '" + std::string(value) +
                            "' is longer than 20 characters");
        }
        disk.serial = std::string(value);
      } else if (key == "cache") {
        if (value == "writeback") {
          disk.cache = virtio::DiskCache::kWriteback;
        } else if (value == "none") {
          disk.cache = virtio::DiskCache::kNone;
        } else {
          throw ConfigError("--disk: cache=" + std::string(value) + " is not writeback or none");
        }
      } else if (key == "queues") {
        disk.queues = parse_queue_count(value);
      } else {
        throw ConfigError("--disk: unknown option '" + std::string(key) +
                          "' (readonly, snapshot, serial, cache, queues)");
      }
    }
  }
  return disk;
}

}  // namespace vmm::cli
