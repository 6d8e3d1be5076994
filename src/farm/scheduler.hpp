#pragma once
// Runs a farm's jobs as child processes, in parallel within a Capacity, each attempt's console
// appended to the job's log (LOGS/NAME.log), and judges every attempt (verdict.hpp). A failed
// job runs again up to `retries` more times; one that then passes is flaky. Single-threaded:
// the loop polls its children, so there is nothing to lock.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "farm/capacity.hpp"
#include "farm/job_result.hpp"
#include "farm/job_spec.hpp"

namespace vmm::farm {

// What a display of the run (progress.hpp) is told as it goes.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void started(const JobSpec& job, unsigned attempt) = 0;
  // An attempt ended; `final` is false when the job will run again.
  virtual void finished(const JobResult& result, bool final) = 0;
  // Called every few tens of milliseconds with the names of the running jobs.
  virtual void tick(const std::vector<std::string>& running, std::size_t done,
                    std::size_t total) = 0;
};

struct SchedulerOptions {
  std::filesystem::path vmm;       // the executable the children run
  std::filesystem::path logs;      // exists
  std::filesystem::path work_dir;  // the children's current directory (the farm file's)
  Capacity capacity;
  unsigned retries = 0;
  double default_timeout_seconds = 600;           // jobs without a timeout of their own
  std::chrono::milliseconds kill_grace{3000};     // SIGTERM at the timeout, SIGKILL this later
  const std::atomic<int>* stop_signal = nullptr;  // non-zero: stop every job and return
};

// Results in the order of `jobs`. A run stopped by `stop_signal` marks the jobs it did not
// finish as errors ("interrupted").
[[nodiscard]] std::vector<JobResult> run_jobs(const std::vector<JobSpec>& jobs,
                                              const SchedulerOptions& options,
                                              ProgressSink& progress);

}  // namespace vmm::farm
