#pragma once
// How much of the machine the farm may use at once, and what each job asks of it: a job starts
// when the jobs already running leave room for its CPUs and memory, and there are fewer than
// `max_jobs` of them. One job always runs, however large, so a farm never stalls.
#include <cstdint>

#include "farm/job_spec.hpp"

namespace vmm::farm {

struct Capacity {
  unsigned max_jobs = 1;
  unsigned cpus = 1;
  uint64_t memory_bytes = 0;
};

struct Demand {
  unsigned cpus = 1;
  uint64_t memory_bytes = 0;
};

// A VM's vCPUs and RAM (vmm run's defaults: 1 and 512 MiB) plus the VMM's own memory; a
// container's CPU quota (1 when unset) and memory limit (64 MiB when unset).
[[nodiscard]] Demand demand_of(const JobSpec& spec) noexcept;

// This machine's MemAvailable, and either `jobs` (> 0: the user's choice, CPUs are not
// counted, since jobs that mostly wait need few) or the online CPUs as the limit of jobs and of
// their CPUs together.
[[nodiscard]] Capacity host_capacity(unsigned jobs);

class Usage {
 public:
  explicit Usage(const Capacity& capacity) : capacity_(capacity) {}
  [[nodiscard]] bool fits(const Demand& d) const noexcept;
  void add(const Demand& d) noexcept;
  void remove(const Demand& d) noexcept;
  [[nodiscard]] unsigned running() const noexcept { return running_; }

 private:
  Capacity capacity_;
  unsigned running_ = 0;
  unsigned cpus_ = 0;
  uint64_t memory_ = 0;
};

}  // namespace vmm::farm
