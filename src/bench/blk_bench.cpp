// `vmm bench blk`: blkbench in the guest on a data disk full of data.
#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <vector>

#include "bench/io_bench.hpp"
#include "bench/io_run.hpp"
#include "bench/scenario_set.hpp"
#include "bench/workspace.hpp"
#include "vmm/common/error.hpp"

namespace fs = std::filesystem;

namespace vmm::bench {
namespace {

struct BlkSetup {
  const IoBenchOptions& options;
  fs::path root;  // the run's copies of the root file system and of the data disk
  fs::path data;
  std::string cmdline;
};

// A disk of pseudo-random bytes, so that reads are of data (not of holes the host file system
// answers without I/O) that no layer can compress.
void write_random_disk(const fs::path& path, uint64_t mib) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<uint64_t> block(std::size_t{1} << 17);  // 1 MiB
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  for (uint64_t i = 0; i < mib && out; ++i) {
    for (auto& word : block) {  // xorshift64
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      word = state;
    }
    out.write(reinterpret_cast<const char*>(block.data()),
              static_cast<std::streamsize>(block.size() * sizeof(uint64_t)));
  }
  out.close();
  if (!out) throw HostResourceError("cannot write the benchmark's data disk " + path.string());
}

IoScenario vmm_blk(const BlkSetup& b) {
  const auto& o = b.options;
  const std::string queues = std::to_string(o.queues);
  IoScenario s;
  s.scenario.name = "vmm-blk";
  s.scenario.kind = "vm";
  s.scenario.description = "vmm run, virtio-blk data disk, cache=" + o.cache + ", queues=" + queues;
  s.scenario.argv = {o.vmm.string(), "run",
                     "--kernel",     o.kernel.string(),
                     "--initrd",     o.initrd.string(),
                     "--cmdline",    b.cmdline,
                     "--cpus",       queues,
                     "--memory",     "512M",
                     "--disk",       b.root.string(),
                     "--disk",       b.data.string() + ",cache=" + o.cache + ",queues=" + queues};
  s.scenario.ours = true;
  s.scenario.peer = "qemu-blk";
  return s;
}

IoScenario qemu_blk(const BlkSetup& b) {
  const auto& o = b.options;
  const std::string queues = std::to_string(o.queues);
  return qemu_scenario(
      "qemu-blk", "QEMU virtio-blk-pci data disk, cache=" + o.cache + ", num-queues=" + queues, o,
      o.queues, b.cmdline, b.root,
      {"-drive", "file=" + b.data.string() + ",format=raw,if=none,id=data,cache=" + o.cache,
       "-device", "virtio-blk-pci,drive=data,num-queues=" + queues});
}

}  // namespace

Report run_blk(const IoBenchOptions& options) {
  if (options.cache != "writeback" && options.cache != "none") {
    throw ConfigError("cache", "'" + options.cache + "' is not writeback or none");
  }
  if (options.queues < 1 || options.queues > 16) {
    throw ConfigError("queues", std::to_string(options.queues) + " is not 1 to 16");
  }
  Workspace ws(options.vmm);
  BlkSetup b{options, ws.dir() / "root.ext4", ws.dir() / "data.img",
             rootfs_guest_cmdline("bench:vdb,reboot", options.seconds)};
  std::vector<IoScenario> list = {vmm_blk(b), qemu_blk(b)};
  keep_only(list, options.only);
  if (auto why = io_vm_skip_reason(options); !why.empty()) {
    for (auto& s : list) s.scenario.skipped = why;
  }

  Report report;
  report.benchmark = "blk";
  report.runs = options.runs;
  report.baseline = "qemu-blk";
  report.metrics = {{"seqwrite_MBps", "MB/s", "sequential write, 1 MiB O_DIRECT"},
                    {"seqread_MBps", "MB/s", "sequential read, 1 MiB O_DIRECT"},
                    {"randread_IOPS", "IOPS", "4 KiB random read, depth 1"},
                    {"randreadqd32_IOPS", "IOPS", "4 KiB random read, depth 32"}};
  report.ratio_metrics = {"seqwrite_MBps", "seqread_MBps", "randread_IOPS", "randreadqd32_IOPS"};
  report.chart_metrics = report.ratio_metrics;
  report.host = host_facts();
  report.host["settings"] = std::to_string(options.seconds) + " s each, cache=" + options.cache +
                            ", queues=" + std::to_string(options.queues) + ", " +
                            std::to_string(options.disk_mib) + " MiB data disk, 512 MiB guest";

  const fs::path master = ws.dir() / "data.master";
  if (std::any_of(list.begin(), list.end(),
                  [](const IoScenario& s) { return !s.scenario.skipped; })) {
    write_random_disk(master, options.disk_mib);
  }
  const unsigned timeout = options.timeout != 0 ? options.timeout : 300 + 8 * options.seconds;
  run_io_scenarios(report, std::move(list),
                   {{"seqwrite_MBps", "bench_seqwrite", "MBps"},
                    {"seqread_MBps", "bench_seqread", "MBps"},
                    {"randread_IOPS", "bench_randread", "IOPS"},
                    {"randreadqd32_IOPS", "bench_randread_qd32", "IOPS"}},
                   options, timeout, [&] {
                     fs::copy_file(options.rootfs, b.root, fs::copy_options::overwrite_existing);
                     fs::copy_file(master, b.data, fs::copy_options::overwrite_existing);
                   });
  return report;
}

}  // namespace vmm::bench
