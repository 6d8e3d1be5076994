// `vmm bench density`: N instances started at once, held until all are ready, their memory
// read, then released together.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "bench/measured_process.hpp"
#include "bench/process_memory.hpp"
#include "bench/scenario_set.hpp"
#include "bench/startup.hpp"
#include "bench/workspace.hpp"
#include "vmm/common/error.hpp"

namespace vmm::bench {
namespace {

// One round: `count` instances of `s`, their samples into `r`, the round's totals returned.
void run_round(const Scenario& s, unsigned count, const BenchOptions& o, unsigned round,
               ScenarioResult& r, std::vector<double>& all_ready, std::vector<double>& all_exited,
               std::vector<double>& total_pss) {
  std::vector<MeasuredProcess> procs;
  procs.reserve(count);
  const auto t0 = Clock::now();
  try {
    for (unsigned i = 0; i < count; ++i) {
      const std::string id = "vmm-bench-" + std::to_string(::getpid()) + "-" + s.name + "-" +
                             std::to_string(round) + "-" + std::to_string(i);
      procs.push_back(MeasuredProcess::spawn(with_id(s.argv, id), s.ready_marker, true));
    }
  } catch (const Error& e) {
    r.failures.push_back("round " + std::to_string(round + 1) + ": " + e.what());
    return;
  }
  std::vector<MeasuredProcess*> ptrs;
  ptrs.reserve(procs.size());
  for (auto& p : procs) ptrs.push_back(&p);
  const auto deadline = t0 + o.timeout;
  const bool ready = service_until(ptrs, deadline, [&] {
    return std::all_of(procs.begin(), procs.end(),
                       [](const MeasuredProcess& p) { return p.ready_at() || p.exited(); });
  });
  for (const auto& p : procs) {
    if (!p.ready_at()) {
      std::string why = ready ? describe_wait_status(p.wait_status()) + " before it was ready"
                              : "not ready within " + std::to_string(o.timeout.count()) + " s";
      r.failures.push_back("round " + std::to_string(round + 1) + ": instance " +
                           std::to_string(&p - procs.data()) + ": " + why);
      return;  // the destructors kill what runs
    }
  }
  const auto all_ready_at =
      std::max_element(procs.begin(), procs.end(), [](const auto& a, const auto& b) {
        return *a.ready_at() < *b.ready_at();
      })->ready_at();
  // Memory while every instance is up and idle.
  std::vector<Sample> samples(count);
  double pss_total = 0;
  for (unsigned i = 0; i < count; ++i) {
    auto& sample = samples[i];
    sample["ready_ms"] = ms_between(t0, *procs[i].ready_at());
    if (s.kind == "vm") {
      if (auto m = vm_memory(procs[i].pid(), o.memory_mib * 1024)) {
        sample["pss_mib"] = m->pss_mib;
        sample["guest_touched_mib"] = m->guest_touched_mib;
        sample["vmm_overhead_mib"] = m->overhead_mib;
        sample["vmm_overhead_rss_mib"] = m->overhead_rss_mib;
        pss_total += m->pss_mib;
      }
    } else {
      const auto tree = process_tree(procs[i].pid());
      sample["pss_mib"] = pss_mib(tree);
      pss_total += sample["pss_mib"];
      if (auto cg = container_cgroup_mib(tree)) sample["cgroup_mib"] = *cg;
    }
  }
  const auto released = Clock::now();
  for (auto& p : procs) p.release();
  const bool exited = service_until(ptrs, released + o.timeout, [&] {
    return std::all_of(procs.begin(), procs.end(),
                       [](const MeasuredProcess& p) { return p.exited(); });
  });
  if (!exited) {
    r.failures.push_back("round " + std::to_string(round + 1) + ": not all exited within " +
                         std::to_string(o.timeout.count()) + " s of the release");
    return;
  }
  double last_exit = 0;
  for (unsigned i = 0; i < count; ++i) {
    const int status = procs[i].wait_status();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != s.expected_status) {
      r.failures.push_back("round " + std::to_string(round + 1) + ": instance " +
                           std::to_string(i) + ": " + describe_wait_status(status));
      return;
    }
    samples[i]["exit_ms"] = ms_between(released, *procs[i].exited_at());
    last_exit = std::max(last_exit, samples[i]["exit_ms"]);
    samples[i]["cpu_ms"] = cpu_ms(procs[i].usage());
  }
  for (const auto& sample : samples) r.record(sample);
  all_ready.push_back(ms_between(t0, *all_ready_at));
  all_exited.push_back(last_exit);
  total_pss.push_back(pss_total);
}

}  // namespace

Report run_density(const BenchOptions& options, unsigned count, DensityKind kind) {
  if (count == 0) throw ConfigError("count", "must be at least 1");
  Workspace ws(options.vmm);
  Report report;
  report.benchmark = "density";
  report.runs = options.runs;
  report.baseline = kind == DensityKind::kVm ? "vmm-vm" : "vmm-container";
  report.metrics = {{"ready_ms", "ms", "start of all spawns to this instance's first output"},
                    {"exit_ms", "ms", "release to this instance's exit"},
                    {"pss_mib", "MiB", "proportional set size of the instance's processes"},
                    {"guest_touched_mib", "MiB", "guest RAM the guest has touched (VM)"},
                    {"vmm_overhead_mib", "MiB", "VMM memory outside guest RAM, PSS (VM)"},
                    {"vmm_overhead_rss_mib", "MiB", "VMM memory outside guest RAM, RSS (VM)"},
                    {"cgroup_mib", "MiB", "memory charged to the container's cgroup"},
                    {"cpu_ms", "ms", "CPU time (user + system, with reaped children)"}};
  report.ratio_metrics = {"ready_ms", "pss_mib"};
  report.chart_metrics = {"ready_ms", "exit_ms"};
  report.host = host_facts();
  report.host["instances"] = std::to_string(count);
  report.add(density_scenarios(options, ws, kind));
  const unsigned total = report.planned_runs();
  unsigned done = 0;
  for (auto& r : report.results) {
    if (r.scenario.skipped) continue;
    std::vector<double> all_ready;
    std::vector<double> all_exited;
    std::vector<double> total_pss;
    for (unsigned round = 0; round < options.runs; ++round) {
      if (options.progress) options.progress(done, total, r.scenario.name);
      run_round(r.scenario, count, options, round, r, all_ready, all_exited, total_pss);
      ++done;
      if (!r.failures.empty()) break;
    }
    if (auto s = summarize(all_ready)) r.figures["all_ready_ms"] = s->median;
    if (auto s = summarize(all_exited)) r.figures["all_exited_ms"] = s->median;
    if (auto s = summarize(total_pss)) r.figures["total_pss_mib"] = s->median;
    r.figures["instances"] = count;
  }
  if (options.progress) options.progress(total, total, "");
  return report;
}

}  // namespace vmm::bench
