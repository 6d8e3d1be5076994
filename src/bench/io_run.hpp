#pragma once
// The run loop that `vmm bench net` and `vmm bench blk` share: each run boots the guest once,
// waits for its VMM to exit, and reads the figures the guest printed on its console.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/io_bench.hpp"
#include "bench/scenario.hpp"

namespace vmm::bench {

// A figure on the guest's console: the line "VMMTEST: KEY=VALUE", and in VALUE either the whole
// value (field empty) or the number after " FIELD=" ("blkbench seqread ... MBps=41.2 ...").
struct ConsoleFigure {
  std::string metric;
  std::string key;
  std::string field;
};

// The figure's value in the last console line that carries its key; nullopt when no line has
// it or its value is not a finite number. The lines are the guest's: anything may be there.
[[nodiscard]] std::optional<double> find_figure(const std::vector<std::string>& lines,
                                                const ConsoleFigure& figure);

struct IoScenario {
  Scenario scenario;
  // A line the VMM must write for the run to count (vhost-net in use), and what its absence
  // means.
  std::string required_log;
  std::string required_log_missing;
};

// The guest's kernel command line for a root on /dev/vda running `actions`
// (firmware/rootfs-init.sh), each measurement taking `seconds`.
[[nodiscard]] std::string rootfs_guest_cmdline(const std::string& actions, unsigned seconds);

// QEMU as the peer of these benchmarks: its scenario `name` booting the guest with `cpus` vCPUs,
// 512 MiB, the console on stdout, options' kernel and initramfs, `cmdline` and `root` as vda
// (virtio-blk-pci), then `devices` (the QEMU arguments of what it measures). Skipped when
// qemu-system-x86_64 is not installed.
[[nodiscard]] IoScenario qemu_scenario(const std::string& name, const std::string& description,
                                       const IoBenchOptions& options, unsigned cpus,
                                       const std::string& cmdline,
                                       const std::filesystem::path& root,
                                       const std::vector<std::string>& devices);

// Why no VM of these benchmarks can run here (a missing guest asset, no KVM), or "".
[[nodiscard]] std::string io_vm_skip_reason(const IoBenchOptions& options);

// Keeps the scenarios named in options.only when it names any (an unknown name is a
// vmm::ConfigError).
void keep_only(std::vector<IoScenario>& scenarios, const std::vector<std::string>& only);

// Runs every scenario options.runs times, interleaved; `before_run` prepares the guest's disks
// (fresh copies) before each boot. A run fails when the VMM overstays `timeout_s`, exits other
// than 0, or the console lacks a figure.
void run_io_scenarios(Report& report, std::vector<IoScenario> scenarios,
                      const std::vector<ConsoleFigure>& figures, const IoBenchOptions& options,
                      unsigned timeout_s, const std::function<void()>& before_run);

}  // namespace vmm::bench
