#pragma once
// Reads a farm file (TOML): a [defaults] table and [[job]] tables with the same keys, a job's
// own keys overriding the defaults. Every mistake is a vmm::ConfigError of one line naming the
// file, the job and the key: "farm.toml: job 'boot': cpus: expected a positive integer".
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "farm/job_spec.hpp"

namespace vmm::farm {

// `source` names the text in messages (the file's path). Job names are unique and safe as file
// names (letters, digits, '.', '_', '-'; not starting with '.').
[[nodiscard]] std::vector<JobSpec> parse_farm_file(std::string_view text,
                                                   const std::string& source);

[[nodiscard]] std::vector<JobSpec> load_farm_file(const std::filesystem::path& path);

}  // namespace vmm::farm
