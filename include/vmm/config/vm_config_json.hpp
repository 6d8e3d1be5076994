#pragma once
// VmConfig as a JSON document: the schema of `vmm run --config FILE` and `--print-config`.
// Firecracker's config-file names where the concept is the same (boot-source, drives,
// machine-config, network-interfaces), vmm's additions beside them and in a "vmm" section.
// README.md ("Configuration file") documents every field.
//
// Every error is a vmm::ConfigError whose field is the JSON path of the offending value
// ("drives[1].path_on_host", "machine-config.vcpu_count").
#include <filesystem>
#include <nlohmann/json_fwd.hpp>

#include "vmm/config/vm_config.hpp"

namespace vmm {

// `base` with every field present in `doc` replacing its value. A "drives" or
// "network-interfaces" list replaces the whole list. Files named by the document (kernel,
// initrd, drives) must exist, and so must the directory of the vsock socket. Firecracker keys
// vmm does not implement are accepted with a warning, or refused when ignoring them would
// change what the guest sees.
[[nodiscard]] VmConfig vm_config_from_json(const nlohmann::json& doc, VmConfig base);

// The whole configuration in the schema above: vm_config_from_json(vm_config_to_json(c), {})
// gives back `c` (provided its files exist).
[[nodiscard]] nlohmann::json vm_config_to_json(const VmConfig& config);

// Reads and applies a config file. An unreadable file or bad JSON is a ConfigError naming the
// file (and the line and column of a syntax error).
[[nodiscard]] VmConfig load_vm_config_file(const std::filesystem::path& path, VmConfig base);

}  // namespace vmm
