#pragma once
// The command line of a job's child: `vmm run ...` or `vmm container run ...`, run by the
// farm's own executable, so a farm tests exactly the vmm that runs it.
#include <filesystem>
#include <string>
#include <vector>

#include "farm/job_spec.hpp"

namespace vmm::farm {

[[nodiscard]] std::vector<std::string> job_command(const JobSpec& spec,
                                                   const std::filesystem::path& vmm);

}  // namespace vmm::farm
