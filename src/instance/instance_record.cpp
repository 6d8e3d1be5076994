#include "instance/instance_record.hpp"

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

using nlohmann::json;

uint64_t parse_size_of(const std::string& key, const std::string& text) {
  size_t used = 0;
  uint64_t value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    throw ConfigError(key, "\"" + text + "\" is not a size (e.g. 512MiB, 1GiB)");
  }
  const std::string unit = text.substr(used);
  uint64_t scale = 1;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "kB" || unit == "KB") {
    scale = 1000;
  } else if (unit == "KiB" || unit == "k" || unit == "K") {
    scale = uint64_t{1} << 10;
  } else if (unit == "MB") {
    scale = uint64_t{1000} * 1000;
  } else if (unit == "MiB" || unit == "M" || unit == "m") {
    scale = uint64_t{1} << 20;
  } else if (unit == "GB") {
    scale = uint64_t{1000} * 1000 * 1000;
  } else if (unit == "GiB" || unit == "G" || unit == "g") {
    scale = uint64_t{1} << 30;
  } else {
    throw ConfigError(key, "unknown unit \"" + unit + "\" (use MiB or GiB)");
  }
  if (value == 0 || value > (uint64_t{1} << 50) / scale) {
    throw ConfigError(key, "\"" + text + "\" is out of range");
  }
  return value * scale;
}

}  // namespace

const char* type_name(InstanceType type) {
  return type == InstanceType::kContainer ? "container" : "virtual-machine";
}

InstanceType parse_type(const std::string& text) {
  if (text.empty() || text == "container") return InstanceType::kContainer;
  if (text == "virtual-machine") return InstanceType::kVirtualMachine;
  throw ConfigError("type", "\"" + text + "\" is neither container nor virtual-machine");
}

void save_record(const std::filesystem::path& file, const InstanceRecord& r) {
  const json j{
      {"name", r.name},         {"type", type_name(r.type)},  {"image", r.image},
      {"config", r.config},     {"created_at", r.created_at}, {"running_wanted", r.running_wanted},
      {"creating", r.creating}, {"network", r.network},       {"mac", r.mac},
      {"ipv4", r.ipv4},         {"vsock_cid", r.vsock_cid},   {"agent_hook", r.agent_hook}};
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2);
    if (!out.flush()) throw Error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, file);
}

InstanceRecord load_record(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error("cannot read " + file.string());
  try {
    const json j = json::parse(in);
    InstanceRecord r;
    r.name = j.at("name").get<std::string>();
    r.type = parse_type(j.value("type", "container"));
    r.image = j.value("image", "");
    r.config = j.value("config", std::map<std::string, std::string>{});
    r.created_at = j.value("created_at", "");
    r.running_wanted = j.value("running_wanted", false);
    r.creating = j.value("creating", false);
    r.network = j.value("network", "none");
    r.mac = j.value("mac", "");
    r.ipv4 = j.value("ipv4", "");
    r.vsock_cid = j.value("vsock_cid", uint32_t{0});
    r.agent_hook = j.value("agent_hook", "");
    return r;
  } catch (const json::exception& e) {
    throw Error(file.string() + " is damaged: " + e.what());
  }
}

void validate_config(const std::map<std::string, std::string>& config) {
  for (const auto& [key, value] : config) {
    if (key == "limits.cpu") {
      size_t used = 0;
      unsigned long cpus = 0;
      try {
        cpus = std::stoul(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || cpus < 1 || cpus > 256) {
        throw ConfigError("limits.cpu", "\"" + value + "\" is not a CPU count from 1 to 256");
      }
    } else if (key == "limits.memory") {
      (void)parse_size_of(key, value);
    } else if (key == "root.size") {
      if (parse_size_of(key, value) < kMinRootDiskSize) {
        throw ConfigError("root.size", "\"" + value + "\" is below the minimum of 128MiB");
      }
    } else if (key == "boot.autostart") {
      if (value != "true" && value != "false") {
        throw ConfigError("boot.autostart", "\"" + value + "\" is neither true nor false");
      }
    } else if (!key.starts_with("user.")) {
      throw ConfigError(key,
                        "unknown configuration key (known: limits.cpu, limits.memory, "
                        "root.size, boot.autostart, user.*)");
    }
  }
}

uint64_t memory_limit(const std::map<std::string, std::string>& config) {
  const auto it = config.find("limits.memory");
  return it == config.end() ? 0 : parse_size_of("limits.memory", it->second);
}

uint64_t root_disk_size(const std::map<std::string, std::string>& config) {
  const auto it = config.find("root.size");
  return it == config.end() ? 0 : parse_size_of("root.size", it->second);
}

}  // namespace vmm::instance
