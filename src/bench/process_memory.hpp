#pragma once
// What a running instance costs in memory, read from /proc and its cgroup.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmm::bench {

struct VmMemory {
  double pss_mib = 0;            // the whole VMM process
  double guest_touched_mib = 0;  // resident pages of the guest RAM mapping
  double overhead_mib = 0;       // PSS outside the guest RAM mapping: what the VMM adds
  double overhead_rss_mib = 0;   // the same as resident memory (shared pages counted whole)
};

// From /proc/PID/smaps text: the guest RAM is the mapping of exactly `guest_kib` KiB.
[[nodiscard]] VmMemory parse_vm_smaps(const std::string& smaps, uint64_t guest_kib);
[[nodiscard]] std::optional<VmMemory> vm_memory(pid_t pid, uint64_t guest_kib);

// `pid` and every process below it.
[[nodiscard]] std::vector<pid_t> process_tree(pid_t pid);
// Sum of Pss (smaps_rollup) over the processes, in MiB.
[[nodiscard]] double pss_mib(const std::vector<pid_t>& pids);
// The memory charged to the cgroup of the first process of `pids` that is in another memory
// cgroup than this process (v1 memory.usage_in_bytes or v2 memory.current), in MiB.
[[nodiscard]] std::optional<double> container_cgroup_mib(const std::vector<pid_t>& pids);

}  // namespace vmm::bench
