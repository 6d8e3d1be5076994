#pragma once
// The scenarios of each benchmark on this machine: what can run, and why the rest cannot.
#include <map>
#include <string>
#include <vector>

#include "bench/scenario.hpp"
#include "bench/startup.hpp"
#include "bench/workspace.hpp"

namespace vmm::bench {

// Every startup scenario, the ones that cannot run here marked skipped with the reason, and
// only those in options.only when it names any (an unknown name is a vmm::ConfigError).
[[nodiscard]] std::vector<Scenario> startup_scenarios(const BenchOptions& options, Workspace& ws);

// The density scenarios: "vmm-vm" (the minimal kernel when there is one) and "vmm-container",
// whose workloads print their marker and then wait for a line on stdin.
[[nodiscard]] std::vector<Scenario> density_scenarios(const BenchOptions& options, Workspace& ws,
                                                      DensityKind kind);

// argv with "{id}" replaced in every argument.
[[nodiscard]] std::vector<std::string> with_id(const std::vector<std::string>& argv,
                                               const std::string& id);

// Kernel release, CPU count, KVM module, vmm version, and $VMM_BENCH_PLACE when set.
[[nodiscard]] std::map<std::string, std::string> host_facts();

}  // namespace vmm::bench
