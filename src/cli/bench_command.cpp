#include "cli/bench_command.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bench/io_bench.hpp"
#include "bench/report_writers.hpp"
#include "bench/startup.hpp"
#include "cli/exit_status.hpp"
#include "instance/image_store.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/size.hpp"

namespace fs = std::filesystem;

namespace vmm::cli {
namespace {

struct Outputs {
  std::string format = "table";
  fs::path out_dir;
  bool strict = false;
};

// A progress bar on stderr when it is a terminal.
void show_progress(unsigned done, unsigned total, const std::string& scenario) {
  constexpr unsigned kWidth = 30;
  const unsigned filled = total == 0 ? kWidth : done * kWidth / total;
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  if (done >= total) {
    std::fprintf(stderr, "\r\033[K");
  } else {
    std::fprintf(stderr, "\r\033[K[%s] %u/%u %s", bar.c_str(), done, total, scenario.c_str());
  }
  std::fflush(stderr);
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw HostResourceError("cannot write " + path.string());
}

int emit(const bench::Report& report, const Outputs& outputs) {
  if (!outputs.out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(outputs.out_dir, ec);
    if (ec) {
      throw HostResourceError("cannot create " + outputs.out_dir.string() + ": " + ec.message());
    }
    const std::string stem = report.benchmark;
    write_file(outputs.out_dir / (stem + ".json"), bench::report_json(report).dump(2) + "\n");
    write_file(outputs.out_dir / (stem + ".csv"), bench::report_csv(report));
    write_file(outputs.out_dir / (stem + ".svg"), bench::report_svg(report));
  }
  if (outputs.format == "json") {
    std::cout << bench::report_json(report).dump(2) << '\n';
  } else if (outputs.format == "csv") {
    std::cout << bench::report_csv(report);
  } else {
    std::cout << bench::report_table(report);
    if (!outputs.out_dir.empty()) {
      std::cout << "Wrote " << (outputs.out_dir / report.benchmark).string() << ".{json,csv,svg}\n";
    }
  }
  std::cout.flush();
  if (outputs.strict) {
    for (const auto& r : report.results) {
      if (r.status() == "failed") return static_cast<int>(ExitStatus::kRuntimeError);
    }
  }
  return 0;
}

fs::path self_binary() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw HostResourceError("cannot find the vmm binary: " + ec.message());
  return self;
}

}  // namespace

int bench_main(int argc, char** argv) {
  CLI::App app{
      "vmm bench: VM against container startup and density, beside QEMU, runc, crun "
      "and podman; guest network and disk throughput beside QEMU",
      "vmm bench"};
  app.require_subcommand(1);
  bench::BenchOptions options;
  Outputs outputs;
  std::string memory = "256M";
  std::string image;
  fs::path state_dir = "/var/lib/vmm";
  unsigned timeout = 300;
  unsigned density_rounds = 1;
  // Where the report goes, the same for every benchmark.
  auto output_options = [&](CLI::App* cmd) {
    cmd->add_option("--out", outputs.out_dir,
                    "Directory for BENCH.json, BENCH.csv and BENCH.svg (the chart)");
    cmd->add_option("--format", outputs.format, "What stdout shows")
        ->check(CLI::IsMember({"table", "json", "csv"}))
        ->capture_default_str();
    cmd->add_flag("--strict", outputs.strict,
                  "Exit 1 when a scenario that could run failed in every run");
  };
  auto common = [&](CLI::App* cmd, unsigned& runs, const char* what) {
    cmd->add_option("--runs", runs, what)->check(CLI::Range(1U, 100000U))->capture_default_str();
    cmd->add_option("--rootfs", options.rootfs,
                    "Root file system of the container scenarios (default: a busybox root "
                    "made for the run)");
    cmd->add_option("--image", image,
                    "An image of the instance manager (`vmm image list`) as the containers' "
                    "root");
    cmd->add_option("--state-dir", state_dir, "The instance manager's state (for --image)")
        ->capture_default_str();
    cmd->add_option("--kernel", options.kernel,
                    "Stock kernel of the VM scenarios (default $VMM_CACHE_DIR/kernel/bzImage)");
    cmd->add_option("--minimal-kernel", options.minimal_kernel,
                    "Minimal kernel (default $VMM_CACHE_DIR/minimal-kernel/bzImage)");
    cmd->add_option("--initrd", options.initrd,
                    "The guest workload: an initramfs whose init prints \"VMMTEST: init "
                    "started\" and then writes 16 to port 0xf4 (vmmbench=exit) (default "
                    "$VMM_CACHE_DIR/test-initramfs.cpio.gz, firmware/build-test-initramfs.sh)");
    cmd->add_option("--cpus", options.cpus, "vCPUs of each VM")->capture_default_str();
    cmd->add_option("--memory", memory, "Guest RAM of each VM")->capture_default_str();
    cmd->add_option("--timeout", timeout, "Seconds one run may take before it counts as failed")
        ->check(CLI::Range(1U, 86400U))
        ->capture_default_str();
    output_options(cmd);
  };
  auto* startup = app.add_subcommand(
      "startup",
      "Spawn to the workload's first output and to the process's exit, for every scenario this "
      "machine has: vmm VMs (minimal and stock kernel, each also with --seccomp off and with "
      "--jail, "
      "compared with the plain run), QEMU -M microvm and -M pc on the same kernels, vmm container "
      "run, "
      "vmm oci run, runc, crun, podman with each runtime, and the "
      "unshare+chroot floor; run i of every scenario before run i+1 of any");
  common(startup, options.runs, "Runs of each scenario");
  startup->add_option("--baseline", options.baseline, "The scenario the ratio columns divide by")
      ->capture_default_str();
  std::vector<std::string> only;
  startup->add_option("--scenarios", only, "Only these scenarios (comma-separated names)")
      ->delimiter(',');
  auto* density = app.add_subcommand(
      "density",
      "Start --count instances at once; the time until all are ready and until all have exited "
      "after being released, and each one's memory (PSS; guest touched and VMM overhead for "
      "VMs; cgroup memory for containers)");
  common(density, density_rounds, "Rounds (each starts --count instances)");
  unsigned count = 4;
  density->add_option("--count", count, "Instances started at once")
      ->check(CLI::Range(1U, 10000U))
      ->capture_default_str();
  std::string kind = "both";
  density->add_option("--kind", kind, "vm, container or both")
      ->check(CLI::IsMember({"vm", "container", "both"}))
      ->capture_default_str();
  bench::IoBenchOptions io;
  unsigned io_timeout = 0;
  std::vector<std::string> io_only;
  auto io_common = [&](CLI::App* cmd, const std::string& scenario_names) {
    cmd->add_option("--runs", io.runs, "Runs of each scenario (each boots the guest once)")
        ->check(CLI::Range(1U, 1000U))
        ->capture_default_str();
    cmd->add_option("--seconds", io.seconds, "Length of each measurement in the guest")
        ->check(CLI::Range(1U, 3600U))
        ->capture_default_str();
    cmd->add_option("--scenarios", io_only,
                    "Only these scenarios, comma-separated: " + scenario_names)
        ->delimiter(',');
    cmd->add_option("--kernel", io.kernel,
                    "The guest's kernel (default $VMM_CACHE_DIR/kernel/bzImage)");
    cmd->add_option("--initrd", io.initrd,
                    "An initramfs that mounts /dev/vda as the root (default "
                    "$VMM_CACHE_DIR/rootfs-initramfs.cpio.gz, "
                    "firmware/build-rootfs-initramfs.sh)");
    cmd->add_option("--rootfs", io.rootfs,
                    "The guest's root file system with iperf3 and blkbench, copied for each run "
                    "(default $VMM_CACHE_DIR/test-rootfs.ext4, firmware/build-test-rootfs.sh)");
    cmd->add_option("--timeout", io_timeout,
                    "Seconds one run may take before it counts as failed (default: 300 plus "
                    "the measurements)")
        ->check(CLI::Range(1U, 86400U));
    output_options(cmd);
    cmd->footer("Needs KVM (inside tests/sandbox/vmm-sandbox on a host without it: tests/bench/" +
                std::string(cmd->get_name()) +
                "-bench.sh). The ratio columns divide vmm's medians by QEMU's with the same "
                "configuration; higher is better.");
  };
  auto* net = app.add_subcommand(
      "net",
      "TCP throughput over a TAP (iperf3 in the guest against a server on the host end), guest "
      "to host and host to guest: vmm's user-space virtio-net against QEMU's virtio-net-pci, "
      "vmm with vhost=on against QEMU with vhost=on, and vmm run --jail against plain vmm "
      "(root)");
  io_common(net, "vmm-net, qemu-net, vmm-net-vhost, qemu-net-vhost, vmm-net-jail");
  auto* blk = app.add_subcommand(
      "blk",
      "A virtio-blk data disk: sequential 1 MiB write and read (MB/s), 4 KiB random read at "
      "depth 1 and 32 (IOPS), vmm against QEMU's virtio-blk-pci with the same queue count and "
      "cache mode");
  io_common(blk, "vmm-blk, qemu-blk");
  blk->add_option("--queues", io.queues, "Request queues of the data disk (and vCPUs)")
      ->check(CLI::Range(1U, 16U))
      ->capture_default_str();
  blk->add_option("--cache", io.cache,
                  "writeback (the host's page cache) or none (O_DIRECT: the disk's file system "
                  "must allow it)")
      ->check(CLI::IsMember({"writeback", "none"}))
      ->capture_default_str();
  blk->add_option("--disk-mib", io.disk_mib, "Size of the data disk")
      ->check(CLI::Range(uint64_t{16}, uint64_t{1} << 20))
      ->capture_default_str();
  auto* again = app.add_subcommand(
      "report",
      "Write the table, CSV or chart of a saved run again from its JSON (--out, --format)");
  fs::path saved;
  again->add_option("json", saved, "A BENCH.json that --out wrote")->required();
  again->add_option("--out", outputs.out_dir, "Directory for BENCH.json, BENCH.csv and BENCH.svg");
  again->add_option("--format", outputs.format, "What stdout shows")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  startup->footer(
      "Outputs: a table (or --format json|csv) on stdout; with --out, JSON, CSV and an SVG "
      "chart. Set VMM_BENCH_PLACE to say where it ran (it appears in the chart's title). "
      "Scenarios that cannot run here are listed as skipped, with the reason.");

  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "vmm bench: %s (see vmm bench --help)\n", e.what());
    return static_cast<int>(ExitStatus::kUsageError);
  }
  try {
    if (again->parsed()) {
      std::ifstream in(saved);
      if (!in) throw ConfigError("report", "cannot read " + saved.string());
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        throw ConfigError("report", saved.string() + " is not JSON: " + e.what());
      }
      return emit(bench::report_from_json(j), outputs);
    }
    if (net->parsed() || blk->parsed()) {
      io.vmm = self_binary();
      io.only = io_only;
      io.timeout = io_timeout;
      bench::default_io_guest_assets(io);
      if (::isatty(STDERR_FILENO) == 1) io.progress = show_progress;
      return emit(net->parsed() ? bench::run_net(io) : bench::run_blk(io), outputs);
    }
    auto bytes = parse_size(memory);
    if (!bytes || *bytes < (16ULL << 20)) {
      throw ConfigError("memory", "cannot use '" + memory + "' (at least 16M)");
    }
    options.memory_mib = *bytes >> 20;
    options.timeout = std::chrono::seconds(timeout);
    options.only = only;
    options.vmm = self_binary();
    if (!image.empty()) {
      if (!options.rootfs.empty())
        throw ConfigError("image", "--image and --rootfs exclude each other");
      if (!fs::is_directory(state_dir / "images")) {
        throw ConfigError("image", "no images in " + (state_dir / "images").string());
      }
      instance::ImageStore store(state_dir / "images");
      options.rootfs = store.rootfs(store.get(image).fingerprint);
    }
    bench::default_guest_assets(options);
    if (::isatty(STDERR_FILENO) == 1) options.progress = show_progress;
    if (startup->parsed()) return emit(bench::run_startup(options), outputs);
    options.runs = density_rounds;
    const auto k = kind == "vm"          ? bench::DensityKind::kVm
                   : kind == "container" ? bench::DensityKind::kContainer
                                         : bench::DensityKind::kBoth;
    return emit(bench::run_density(options, count, k), outputs);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "vmm bench: %s\n", e.what());
    return static_cast<int>(ExitStatus::kUsageError);
  } catch (const Error& e) {
    std::fprintf(stderr, "vmm bench: %s\n", e.what());
    return exit_status(e.kind());
  }
}

}  // namespace vmm::cli
