#include "bench/io_run.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "bench/measured_process.hpp"
#include "bench/startup.hpp"
#include "bench/workspace.hpp"
#include "vmm/common/error.hpp"

namespace fs = std::filesystem;

namespace vmm::bench {
namespace {

constexpr const char* kFigurePrefix = "VMMTEST: ";

// The number at the start of `text`, when it is one and finite.
std::optional<double> leading_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || errno != 0 || !std::isfinite(value)) return std::nullopt;
  return value;
}

// The guest's own word on a failed measurement ("VMMTEST: iperf=no iperf3 in the guest"), if
// it printed one for this figure's action.
std::string guest_complaint(const std::vector<std::string>& lines, const ConsoleFigure& f) {
  const std::string action = f.key.substr(0, f.key.find('_'));
  const std::string key = std::string(kFigurePrefix) + action + "=";
  for (const auto& line : lines) {
    if (auto at = line.find(key); at != std::string::npos) return line.substr(at);
  }
  return "";
}

std::optional<Sample> run_once(const IoScenario& s, const std::vector<ConsoleFigure>& figures,
                               unsigned timeout_s, std::string& failure) {
  std::optional<MeasuredProcess> p;
  try {
    p.emplace(MeasuredProcess::spawn(s.scenario.argv, kFigurePrefix, false));
  } catch (const Error& e) {
    failure = e.what();
    return std::nullopt;
  }
  std::vector<std::string> needles = {kFigurePrefix};
  if (!s.required_log.empty()) needles.push_back(s.required_log);
  p->keep_lines_containing(needles);
  const bool finished = service_until({&*p}, p->started() + std::chrono::seconds(timeout_s),
                                      [&] { return p->exited(); });
  if (!finished) {
    p->kill_group();
    failure = "no exit within " + std::to_string(timeout_s) + " s";
    if (auto line = last_line(p->output_tail()); !line.empty()) failure += ": " + line;
    return std::nullopt;
  }
  const int status = p->wait_status();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    failure = describe_wait_status(status) + " (expected exit status 0)";
    if (auto line = last_line(p->output_tail()); !line.empty()) failure += ": " + line;
    return std::nullopt;
  }
  const auto& lines = p->kept_lines();
  if (!s.required_log.empty() &&
      std::none_of(lines.begin(), lines.end(), [&](const std::string& line) {
        return line.find(s.required_log) != std::string::npos;
      })) {
    failure = s.required_log_missing;
    return std::nullopt;
  }
  Sample sample;
  for (const auto& f : figures) {
    const auto value = find_figure(lines, f);
    if (!value) {
      failure = "the guest printed no " + f.key + (f.field.empty() ? "" : " " + f.field);
      if (auto why = guest_complaint(lines, f); !why.empty()) {
        failure += " (" + why + ")";
      } else if (auto line = last_line(p->output_tail()); !line.empty()) {
        failure += "; its console ends: " + line;
      }
      return std::nullopt;
    }
    sample[f.metric] = *value;
  }
  return sample;
}

}  // namespace

std::optional<double> find_figure(const std::vector<std::string>& lines, const ConsoleFigure& f) {
  const std::string key = std::string(kFigurePrefix) + f.key + "=";
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    const auto at = it->find(key);
    if (at == std::string::npos) continue;
    std::string value = it->substr(at + key.size());
    if (!f.field.empty()) {
      const std::string field = " " + f.field + "=";
      const auto pos = value.find(field);
      if (pos == std::string::npos) return std::nullopt;
      value.erase(0, pos + field.size());
    }
    return leading_number(value);
  }
  return std::nullopt;
}

void default_io_guest_assets(IoBenchOptions& options) {
  const auto found = guest_asset_cache();
  if (!found) return;
  const fs::path& cache = *found;
  if (options.kernel.empty()) options.kernel = cache / "kernel/bzImage";
  if (options.initrd.empty()) options.initrd = cache / "rootfs-initramfs.cpio.gz";
  if (options.rootfs.empty()) options.rootfs = cache / "test-rootfs.ext4";
}

std::string rootfs_guest_cmdline(const std::string& actions, unsigned seconds) {
  return "console=ttyS0 reboot=k panic=-1 quiet root=/dev/vda rw rootwait rd.emergency=reboot "
         "vmmtest=" +
         actions + " vmmbench=" + std::to_string(seconds);
}

IoScenario qemu_scenario(const std::string& name, const std::string& description,
                         const IoBenchOptions& o, unsigned cpus, const std::string& cmdline,
                         const fs::path& root, const std::vector<std::string>& devices) {
  const auto qemu = find_in_path("qemu-system-x86_64");
  IoScenario s;
  s.scenario.name = name;
  s.scenario.kind = "vm";
  s.scenario.description = description;
  s.scenario.argv = {qemu ? qemu->string() : "qemu-system-x86_64",
                     "-enable-kvm",
                     "-cpu",
                     "host",
                     "-smp",
                     std::to_string(cpus),
                     "-m",
                     "512M",
                     "-nodefaults",
                     "-no-reboot",
                     "-display",
                     "none",
                     "-serial",
                     "stdio",
                     "-kernel",
                     o.kernel.string(),
                     "-initrd",
                     o.initrd.string(),
                     "-append",
                     cmdline,
                     "-drive",
                     "file=" + root.string() + ",format=raw,if=none,id=root",
                     "-device",
                     "virtio-blk-pci,drive=root"};
  s.scenario.argv.insert(s.scenario.argv.end(), devices.begin(), devices.end());
  if (!qemu) s.scenario.skipped = "QEMU is not installed (qemu-system-x86_64 not in PATH)";
  return s;
}

std::string io_vm_skip_reason(const IoBenchOptions& o) {
  const std::pair<const fs::path*, const char*> assets[] = {
      {&o.kernel, "kernel (firmware/fetch-debian-kernel.sh fetches it)"},
      {&o.initrd, "root-on-disk initramfs (firmware/build-rootfs-initramfs.sh builds it)"},
      {&o.rootfs, "test root file system (firmware/build-test-rootfs.sh builds it)"}};
  for (const auto& [path, what] : assets) {
    if (path->empty() || !fs::exists(*path)) {
      return "no " + std::string(what) + (path->empty() ? "" : " at " + path->string());
    }
  }
  if (auto why = kvm_unavailable_reason()) return *why;
  return "";
}

void keep_only(std::vector<IoScenario>& list, const std::vector<std::string>& only) {
  if (only.empty()) return;
  for (const auto& name : only) {
    if (std::none_of(list.begin(), list.end(),
                     [&](const IoScenario& s) { return s.scenario.name == name; })) {
      throw ConfigError("scenarios", "no scenario named '" + name + "'");
    }
  }
  std::erase_if(list, [&](const IoScenario& s) {
    return std::find(only.begin(), only.end(), s.scenario.name) == only.end();
  });
}

void run_io_scenarios(Report& report, std::vector<IoScenario> scenarios,
                      const std::vector<ConsoleFigure>& figures, const IoBenchOptions& options,
                      unsigned timeout_s, const std::function<void()>& before_run) {
  std::vector<Scenario> plain;
  plain.reserve(scenarios.size());
  for (const auto& s : scenarios) plain.push_back(s.scenario);
  report.add(plain);
  const unsigned total = report.planned_runs();
  unsigned done = 0;
  for (unsigned run = 0; run < options.runs; ++run) {
    for (std::size_t i = 0; i < scenarios.size(); ++i) {
      auto& r = report.results[i];
      if (r.scenario.skipped) continue;
      if (options.progress) options.progress(done, total, r.scenario.name);
      before_run();
      std::string failure;
      const auto sample = run_once(scenarios[i], figures, timeout_s, failure);
      r.add_run(run, sample, failure);
      ++done;
    }
  }
  if (options.progress) options.progress(total, total, "");
}

}  // namespace vmm::bench
