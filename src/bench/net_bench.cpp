// `vmm bench net`: iperf3 in the guest against a server on the host end of a TAP.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "bench/bench_tap.hpp"
#include "bench/io_bench.hpp"
#include "bench/io_run.hpp"
#include "bench/scenario_set.hpp"
#include "bench/workspace.hpp"
#include "vmm/common/error.hpp"

namespace fs = std::filesystem;

namespace vmm::bench {
namespace {

constexpr const char* kHostCidr = "192.168.210.1/24";
constexpr const char* kHostAddress = "192.168.210.1";
constexpr const char* kGuestCidr = "192.168.210.2/24";
constexpr const char* kGuestMac = "52:54:00:00:21:02";
constexpr const char* kVhostInUse = "vhost-net serves the queues";

struct NetSetup {
  const IoBenchOptions& options;
  fs::path root;  // the run's copy of the root file system
  std::string tap;
  std::string cmdline;
};

IoScenario vmm_net(const NetSetup& n, const std::string& name, bool vhost, bool jail) {
  IoScenario s;
  s.scenario.name = name;
  s.scenario.kind = "vm";
  s.scenario.description = std::string("vmm run") + (jail ? " --jail" : "") +
                           ", virtio-net over a TAP, vhost=" + (vhost ? "on" : "off");
  s.scenario.argv = {n.options.vmm.string(), "run"};
  if (jail) s.scenario.argv.emplace_back("--jail");
  s.scenario.argv.insert(
      s.scenario.argv.end(),
      {"--log-level", "info", "--kernel", n.options.kernel.string(), "--initrd",
       n.options.initrd.string(), "--cmdline", n.cmdline, "--cpus", "1", "--memory", "512M",
       "--disk", n.root.string(), "--net",
       "tap=" + n.tap + ",mac=" + kGuestMac + ",vhost=" + (vhost ? "on" : "off")});
  s.scenario.ours = true;
  if (vhost) {
    s.required_log = kVhostInUse;
    s.required_log_missing =
        "vmm fell back to its user-space path (no \"" + std::string(kVhostInUse) + "\" in its log)";
  }
  return s;
}

IoScenario qemu_net(const NetSetup& n, const std::string& name, bool vhost) {
  const std::string on_off = vhost ? "on" : "off";
  return qemu_scenario(
      name, "QEMU virtio-net-pci over the same TAP, vhost=" + on_off, n.options, 1, n.cmdline,
      n.root,
      {"-netdev", "tap,id=net0,ifname=" + n.tap + ",script=no,downscript=no,vhost=" + on_off,
       "-device", std::string("virtio-net-pci,netdev=net0,mac=") + kGuestMac});
}

}  // namespace

Report run_net(const IoBenchOptions& options) {
  Workspace ws(options.vmm);
  NetSetup n{options, ws.dir() / "root.ext4", "vmmbench" + std::to_string(::getpid() % 1000000),
             rootfs_guest_cmdline(std::string("ipaddr:") + kGuestMac + "=" + kGuestCidr + ",ping:" +
                                      kHostAddress + ",iperf:" + kHostAddress + ",reboot",
                                  options.seconds)};
  std::vector<IoScenario> list = {
      vmm_net(n, "vmm-net", false, false),      qemu_net(n, "qemu-net", false),
      vmm_net(n, "vmm-net-vhost", true, false), qemu_net(n, "qemu-net-vhost", true),
      vmm_net(n, "vmm-net-jail", false, true),
  };
  list[0].scenario.peer = "qemu-net";
  list[2].scenario.peer = "qemu-net-vhost";
  list[4].scenario.peer = "vmm-net";
  keep_only(list, options.only);

  std::string common = io_vm_skip_reason(options);
  if (common.empty() && ::geteuid() != 0) common = "the TAP device needs root";
  if (common.empty() && !find_in_path("iperf3")) {
    common = "iperf3 is not installed on this host (apt-get install iperf3)";
  }
  const bool vhost_device = fs::exists("/dev/vhost-net");
  for (auto& s : list) {
    if (!common.empty()) {
      s.scenario.skipped = common;
    } else if (!vhost_device && s.scenario.name.find("vhost") != std::string::npos) {
      s.scenario.skipped = "no /dev/vhost-net on this host (modprobe vhost_net)";
    }
  }

  Report report;
  report.benchmark = "net";
  report.runs = options.runs;
  report.baseline = "qemu-net";
  report.metrics = {{"tx_MBps", "MB/s", "guest to host (iperf3 TCP, receiver's MB/s)"},
                    {"rx_MBps", "MB/s", "host to guest (iperf3 TCP, receiver's MB/s)"}};
  report.ratio_metrics = {"tx_MBps", "rx_MBps"};
  report.chart_metrics = {"tx_MBps", "rx_MBps"};
  report.host = host_facts();
  report.host["settings"] = std::to_string(options.seconds) + " s each way, 1 vCPU, 512 MiB";

  const bool any = std::any_of(list.begin(), list.end(),
                               [](const IoScenario& s) { return !s.scenario.skipped; });
  std::unique_ptr<BenchTap> tap;
  std::unique_ptr<Iperf3Server> server;
  if (any) {
    tap = std::make_unique<BenchTap>(n.tap, kHostCidr);
    server = std::make_unique<Iperf3Server>(kHostAddress, ws.dir() / "iperf3-server.log");
  }
  const unsigned timeout = options.timeout != 0 ? options.timeout : 300 + 4 * options.seconds;
  run_io_scenarios(report, std::move(list),
                   {{"tx_MBps", "iperf_tx_MBps", ""}, {"rx_MBps", "iperf_rx_MBps", ""}}, options,
                   timeout, [&] {
                     if (server) {
                       if (auto why = server->gone()) throw HostResourceError(*why);
                     }
                     fs::copy_file(options.rootfs, n.root, fs::copy_options::overwrite_existing);
                   });
  return report;
}

}  // namespace vmm::bench
