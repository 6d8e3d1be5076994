#pragma once
// OCI lifecycle hooks: each runs with the container state JSON on stdin.
#include <string>
#include <vector>

#include "container/oci_config.hpp"

namespace vmm::container {

// Runs `hooks` in order; throws vmm::Error naming the phase and path when one fails or
// exceeds its timeout (it is killed then).
void run_hooks(const std::vector<Hook>& hooks, const std::string& state_json,
               const std::string& phase);

// Same, but failures are only logged (poststart, poststop: the container already ran).
void run_hooks_logged(const std::vector<Hook>& hooks, const std::string& state_json,
                      const std::string& phase) noexcept;

}  // namespace vmm::container
