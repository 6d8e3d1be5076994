#include "cli/farm_command.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "farm/farm_file.hpp"
#include "farm/progress.hpp"
#include "farm/report_writers.hpp"
#include "farm/scheduler.hpp"
#include "vmm/common/error.hpp"

namespace fs = std::filesystem;

namespace vmm::cli {
namespace {

constexpr int kFarmJobFailed = 1;
constexpr int kFarmReportUnwritten = 3;

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }

// SIGINT, SIGTERM and SIGHUP stop the farm's jobs (the scheduler sees the flag), not the farm.
void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);
}

fs::path self_binary() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw HostResourceError("cannot find the vmm binary: " + ec.message());
  return self;
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  return buffer;
}

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return {};
  return buffer;
}

fs::path logs_directory(const fs::path& wanted) {
  if (!wanted.empty()) {
    std::error_code ec;
    fs::create_directories(wanted, ec);
    if (ec || !fs::is_directory(wanted)) {
      throw ConfigError("--logs " + wanted.string() + ": cannot create the directory");
    }
    return fs::absolute(wanted);
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/vmm-farm-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw HostResourceError("cannot create " + pattern + ": " + std::strerror(errno));
  }
  return pattern;
}

bool write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "vmm farm: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int farm_main(int argc, char** argv) {
  CLI::App app{"vmm farm: run a farm file's VM and container jobs in parallel and report",
               "vmm farm"};
  app.require_subcommand(1);
  auto* run = app.add_subcommand(
      "run",
      "Run the jobs of a farm file (TOML: [defaults] and [[job]] tables; see README.md) as "
      "child `vmm run` / `vmm container run` processes, in parallel within this machine's CPUs "
      "and memory");
  fs::path file;
  unsigned jobs = 0;
  fs::path junit;
  fs::path tap;
  fs::path json;
  fs::path logs;
  unsigned retries = 0;
  std::string filter;
  double timeout = 600;
  run->add_option("file", file, "The farm file")->required();
  run->add_option("--jobs,-j", jobs,
                  "At most N jobs at once, whatever their cpus (default: as many as the CPU "
                  "count and the jobs' cpus allow); the jobs' memory never exceeds "
                  "MemAvailable")
      ->check(CLI::Range(1U, 4096U));
  run->add_option("--junit", junit, "Write a JUnit XML report (Jenkins, GitLab)");
  run->add_option("--tap", tap, "Write a TAP version 13 report");
  run->add_option("--json", json, "Write a JSON report");
  run->add_option("--logs", logs,
                  "Directory for each job's console log, NAME.log (default: a new "
                  "$TMPDIR/vmm-farm-XXXXXX)");
  run->add_option("--retries", retries,
                  "Run a failed job up to N more times (passing on a retry: "
                  "passed-flaky)")
      ->check(CLI::Range(0U, 100U))
      ->capture_default_str();
  run->add_option("--filter", filter, "Only the jobs whose name matches this glob (fnmatch)");
  run->add_option("--timeout", timeout,
                  "Seconds a job may run when the farm file gives it no timeout")
      ->check(CLI::Range(0.001, 7.0 * 24 * 3600))
      ->capture_default_str();
  run->footer(
      "Exit status: 0 every job passed (flaky ones too); 1 a job failed, timed out or could not "
      "start; 2 usage error (bad flag or farm file, no job selected); 3 a report could not be "
      "written; 128+S stopped by signal S.");
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "vmm farm: %s (see vmm farm run --help)\n", e.what());
    return static_cast<int>(ExitStatus::kUsageError);
  }
  try {
    auto specs = farm::load_farm_file(file);
    if (!filter.empty()) {
      std::erase_if(specs, [&](const farm::JobSpec& s) {
        return ::fnmatch(filter.c_str(), s.name.c_str(), 0) != 0;
      });
      if (specs.empty()) throw ConfigError("--filter " + filter + ": no job matches");
    }
    farm::SchedulerOptions options;
    options.vmm = self_binary();
    options.logs = logs_directory(logs);
    options.work_dir = fs::absolute(file).parent_path();
    options.capacity = farm::host_capacity(jobs);
    options.retries = retries;
    options.default_timeout_seconds = timeout;
    options.stop_signal = &g_stop_signal;
    catch_stop_signals();

    farm::FarmReport report;
    report.name = file.stem().string();
    report.timestamp = utc_timestamp();
    report.hostname = host_name();
    const auto start = std::chrono::steady_clock::now();
    {
      auto progress = farm::make_progress(stderr, ::isatty(STDERR_FILENO) == 1);
      report.jobs = farm::run_jobs(specs, options, *progress);
    }
    report.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    bool written = true;
    if (!junit.empty()) written = write_file(junit, farm::junit_xml(report)) && written;
    if (!tap.empty()) written = write_file(tap, farm::tap_text(report)) && written;
    if (!json.empty()) {
      written = write_file(json, farm::report_json(report).dump(2) + "\n") && written;
    }
    std::cout << farm::summary_table(report) << "Logs in " << options.logs.string() << '\n';
    std::cout.flush();
    if (const int sig = g_stop_signal.load(); sig != 0) return 128 + sig;
    if (!written) return kFarmReportUnwritten;
    for (const auto& j : report.jobs) {
      if (!farm::passed(j.verdict.outcome)) return kFarmJobFailed;
    }
    return static_cast<int>(ExitStatus::kOk);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "vmm farm: %s\n", e.what());
    return static_cast<int>(ExitStatus::kUsageError);
  } catch (const Error& e) {
    std::fprintf(stderr, "vmm farm: %s\n", e.what());
    return static_cast<int>(ExitStatus::kUsageError);
  }
}

}  // namespace vmm::cli
