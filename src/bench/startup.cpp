#include "bench/startup.hpp"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "bench/measured_process.hpp"
#include "bench/scenario_set.hpp"
#include "bench/workspace.hpp"
#include "vmm/common/error.hpp"
#include "vmm/kvm/kvm.hpp"

namespace fs = std::filesystem;

namespace vmm::bench {
namespace {

// One run of one scenario: a sample, or why the run failed.
std::optional<Sample> run_once(const Scenario& s, const std::string& id,
                               std::chrono::seconds timeout, std::string& failure) {
  const auto argv = with_id(s.argv, id);
  std::optional<MeasuredProcess> p;
  try {
    p.emplace(MeasuredProcess::spawn(argv, s.ready_marker, false));
  } catch (const Error& e) {
    failure = e.what();
    return std::nullopt;
  }
  const bool finished = service_until({&*p}, p->started() + timeout, [&] { return p->exited(); });
  if (!finished) {
    p->kill_group();
    failure = "no exit within " + std::to_string(timeout.count()) + " s";
    if (auto line = last_line(p->output_tail()); !line.empty()) failure += ": " + line;
    return std::nullopt;
  }
  const int status = p->wait_status();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != s.expected_status) {
    failure =
        describe_wait_status(status) + " (expected " + std::to_string(s.expected_status) + ")";
    if (auto line = last_line(p->output_tail()); !line.empty()) failure += ": " + line;
    return std::nullopt;
  }
  if (!p->ready_at()) {
    failure = "exited without printing \"" + s.ready_marker + "\"";
    return std::nullopt;
  }
  Sample sample;
  sample["ready_ms"] = ms_between(p->started(), *p->ready_at());
  sample["exit_ms"] = ms_between(p->started(), *p->exited_at());
  sample["cpu_ms"] = cpu_ms(p->usage());
  sample["peak_rss_mib"] = static_cast<double>(p->usage().ru_maxrss) / 1024.0;
  return sample;
}

}  // namespace

std::optional<fs::path> guest_asset_cache() {
  if (const char* dir = std::getenv("VMM_CACHE_DIR"); dir != nullptr && *dir != '\0') {
    return fs::path(dir);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return fs::path(home) / ".cache/vmm";
  }
  return std::nullopt;
}

void default_guest_assets(BenchOptions& options) {
  const auto found = guest_asset_cache();
  if (!found) return;
  const fs::path& cache = *found;
  if (options.kernel.empty()) options.kernel = cache / "kernel/bzImage";
  if (options.initrd.empty()) options.initrd = cache / "test-initramfs.cpio.gz";
  if (options.minimal_kernel.empty()) options.minimal_kernel = cache / "minimal-kernel/bzImage";
}

std::optional<std::string> kvm_unavailable_reason() {
  if (auto why = kvm::unsupported_kvm_reason()) return why;
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return "no /dev/kvm on this host (run inside tests/sandbox/vmm-sandbox)";
    return std::string("cannot open /dev/kvm: ") + std::strerror(err);
  }
  ::close(fd);
  return std::nullopt;
}

std::map<std::string, std::string> host_facts() {
  std::map<std::string, std::string> facts;
  utsname u{};
  if (::uname(&u) == 0) facts["kernel"] = u.release;
  facts["cpus"] = std::to_string(std::thread::hardware_concurrency());
  for (const char* module : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    if (fs::exists(fs::path("/sys/module") / module)) facts["kvm"] = module;
  }
  facts["vmm_version"] = VMM_VERSION;
  if (const char* place = std::getenv("VMM_BENCH_PLACE"); place != nullptr && *place != '\0') {
    facts["place"] = place;
  }
  return facts;
}

Report run_startup(const BenchOptions& options) {
  Workspace ws(options.vmm);
  Report report;
  report.benchmark = "startup";
  report.runs = options.runs;
  report.baseline = options.baseline;
  report.metrics = {{"ready_ms", "ms", "spawn to the workload's first output"},
                    {"exit_ms", "ms", "spawn to the process's exit"},
                    {"cpu_ms", "ms", "CPU time (user + system, with reaped children)"},
                    {"peak_rss_mib", "MiB", "peak resident memory"}};
  report.ratio_metrics = {"ready_ms", "exit_ms"};
  report.chart_metrics = {"ready_ms", "exit_ms"};
  report.host = host_facts();
  report.add(startup_scenarios(options, ws));
  const unsigned total = report.planned_runs();
  unsigned done = 0;
  for (unsigned run = 0; run < options.runs; ++run) {
    for (auto& r : report.results) {
      if (r.scenario.skipped) continue;
      // A scenario that has never worked is not tried again: its first failure says why.
      if (r.samples.empty() && !r.failures.empty()) {
        ++done;
        continue;
      }
      if (options.progress) options.progress(done, total, r.scenario.name);
      const std::string id = "vmm-bench-" + std::to_string(::getpid()) + "-" + r.scenario.name +
                             "-" + std::to_string(run);
      std::string failure;
      const auto sample = run_once(r.scenario, id, options.timeout, failure);
      r.add_run(run, sample, failure);
      ++done;
    }
  }
  if (options.progress) options.progress(total, total, "");
  return report;
}

}  // namespace vmm::bench
