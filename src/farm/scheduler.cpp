#include "farm/scheduler.hpp"

#include <time.h>

#include <csignal>
#include <deque>
#include <memory>
#include <optional>

#include "farm/child_process.hpp"
#include "farm/job_command.hpp"
#include "farm/job_log.hpp"
#include "farm/verdict.hpp"
#include "vmm/common/error.hpp"

namespace vmm::farm {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(20);

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Running {
  std::size_t job = 0;
  Demand demand;
  std::unique_ptr<ChildProcess> child;
  Clock::time_point started;
  Clock::time_point deadline;
  std::optional<Clock::time_point> kill_at;  // set once the timeout sent SIGTERM
  uint64_t log_offset = 0;
};

class Scheduler {
 public:
  Scheduler(const std::vector<JobSpec>& jobs, const SchedulerOptions& options,
            ProgressSink& progress)
      : options_(options), progress_(progress), usage_(options.capacity) {
    results_.resize(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      results_[i].spec = jobs[i];
      if (!results_[i].spec.timeout_seconds) {
        results_[i].spec.timeout_seconds = options.default_timeout_seconds;
      }
      results_[i].log = options.logs / (jobs[i].name + ".log");
      pending_.push_back(i);
    }
    logs_.resize(jobs.size());
    final_.resize(jobs.size(), false);
  }

  std::vector<JobResult> run() {
    while (!pending_.empty() || !running_.empty()) {
      if (stopped()) {
        interrupt();
        break;
      }
      start_what_fits();
      const auto now = Clock::now();
      for (auto it = running_.begin(); it != running_.end();) {
        if (const auto status = it->child->poll()) {
          finish(*it, status, now);
          usage_.remove(it->demand);
          it = running_.erase(it);
          continue;
        }
        enforce_timeout(*it, now);
        ++it;
      }
      std::vector<std::string> names;
      names.reserve(running_.size());
      for (const auto& r : running_) names.push_back(results_[r.job].spec.name);
      progress_.tick(names, done_, results_.size());
      const timespec pause{0, std::chrono::nanoseconds(kPollInterval).count()};
      ::nanosleep(&pause, nullptr);
    }
    return std::move(results_);
  }

 private:
  [[nodiscard]] bool stopped() const {
    return options_.stop_signal != nullptr && options_.stop_signal->load() != 0;
  }

  void start_what_fits() {
    for (auto it = pending_.begin(); it != pending_.end();) {
      const Demand demand = demand_of(results_[*it].spec);
      if (!usage_.fits(demand)) {
        ++it;
        continue;
      }
      const std::size_t job = *it;
      it = pending_.erase(it);
      start(job, demand);
    }
  }

  void start(std::size_t job, const Demand& demand) {
    JobResult& result = results_[job];
    ++result.attempts;
    const unsigned of = options_.retries + 1;
    progress_.started(result.spec, result.attempts);
    const auto now = Clock::now();
    Running r;
    r.job = job;
    r.demand = demand;
    r.started = now;
    r.deadline = now + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(*result.spec.timeout_seconds));
    try {
      if (!logs_[job]) logs_[job] = std::make_unique<JobLog>(result.log);
      r.log_offset = logs_[job]->begin_attempt(result.attempts, of);
      r.child = std::make_unique<ChildProcess>(job_command(result.spec, options_.vmm),
                                               logs_[job]->fd(), options_.work_dir);
    } catch (const Error& e) {
      AttemptFacts facts;
      facts.start_error = e.what();
      record(job, judge(result.spec, facts), "", 0);
      return;
    }
    usage_.add(demand);
    running_.push_back(std::move(r));
  }

  void enforce_timeout(Running& r, Clock::time_point now) {
    if (!r.kill_at && now >= r.deadline) {
      // vmm stops a VM or a container the orderly way on SIGTERM; SIGKILL if it does not.
      r.child->signal_group(SIGTERM);
      r.kill_at = now + options_.kill_grace;
    } else if (r.kill_at && now >= *r.kill_at) {
      r.child->signal_group(SIGKILL);
    }
  }

  void finish(Running& r, std::optional<int> status, Clock::time_point now) {
    const JobResult& result = results_[r.job];
    const std::string console = logs_[r.job]->read_since(r.log_offset);
    AttemptFacts facts;
    facts.exit_status = status;
    facts.timed_out = r.kill_at.has_value();
    facts.console = console;
    record(r.job, judge(result.spec, facts), logs_[r.job]->read_tail(r.log_offset),
           seconds_between(r.started, now));
  }

  void record(std::size_t job, Verdict verdict, std::string tail, double seconds) {
    JobResult& result = results_[job];
    const bool failed = !passed(verdict.outcome);
    const bool retry = failed && result.attempts <= options_.retries;
    if (!failed && result.attempts > 1) verdict.outcome = Outcome::kFlaky;
    result.verdict = std::move(verdict);
    result.seconds = seconds;
    result.total_seconds += seconds;
    result.log_tail = std::move(tail);
    if (!retry) {
      ++done_;
      final_[job] = true;
    }
    progress_.finished(result, !retry);
    if (retry) pending_.push_back(job);
  }

  // Stops every running job and marks what did not finish.
  void interrupt() {
    for (auto& r : running_) r.child->signal_group(SIGTERM);
    const auto give_up = Clock::now() + options_.kill_grace;
    while (!running_.empty() && Clock::now() < give_up) {
      for (auto it = running_.begin(); it != running_.end();) {
        it = it->child->poll() ? running_.erase(it) : std::next(it);
      }
      const timespec pause{0, std::chrono::nanoseconds(kPollInterval).count()};
      ::nanosleep(&pause, nullptr);
    }
    running_.clear();  // the destructors kill and reap what is left
    for (std::size_t i = 0; i < results_.size(); ++i) {
      if (final_[i]) continue;
      results_[i].verdict = Verdict{};
      results_[i].verdict.outcome = Outcome::kError;
      results_[i].verdict.reason = "interrupted";
    }
  }

  const SchedulerOptions& options_;
  ProgressSink& progress_;
  Usage usage_;
  std::vector<JobResult> results_;
  std::vector<std::unique_ptr<JobLog>> logs_;
  std::vector<bool> final_;  // the job's last attempt has ended
  std::deque<std::size_t> pending_;
  std::vector<Running> running_;
  std::size_t done_ = 0;
};

}  // namespace

std::vector<JobResult> run_jobs(const std::vector<JobSpec>& jobs, const SchedulerOptions& options,
                                ProgressSink& progress) {
  return Scheduler(jobs, options, progress).run();
}

}  // namespace vmm::farm
