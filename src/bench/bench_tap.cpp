#include "bench/bench_tap.hpp"

#include <sys/wait.h>

#include "vmm/common/error.hpp"

namespace vmm::bench {
namespace {

std::string network_of(const std::string& cidr) {
  // "a.b.c.d/24" -> "a.b.c.0/24": the only prefix length these benchmarks use.
  const auto slash = cidr.find('/');
  const auto dot = cidr.rfind('.', slash);
  return cidr.substr(0, dot) + ".0" + cidr.substr(slash);
}

}  // namespace

std::string run_host_tool(const std::vector<std::string>& argv) {
  auto p = MeasuredProcess::spawn(argv, "", false);
  p.keep_lines_containing({""});
  if (!service_until({&p}, p.started() + std::chrono::seconds(30), [&] { return p.exited(); })) {
    p.kill_group();
    throw HostResourceError(argv[0] + " " + argv[1] + " did not finish within 30 s");
  }
  std::string out;
  for (const auto& line : p.kept_lines()) out += line + "\n";
  if (!WIFEXITED(p.wait_status()) || WEXITSTATUS(p.wait_status()) != 0) {
    std::string command;
    for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
    const auto& lines = p.kept_lines();
    throw HostResourceError(command + ": " + describe_wait_status(p.wait_status()) +
                            (lines.empty() ? "" : ": " + lines.back()));
  }
  return out;
}

BenchTap::BenchTap(std::string name, const std::string& host_cidr) : name_(std::move(name)) {
  const std::string network = network_of(host_cidr);
  if (auto used = run_host_tool({"ip", "-o", "addr", "show", "to", network}); !used.empty()) {
    throw HostResourceError(
        "the benchmark's network " + network +
        " is in use on this host (another vmm bench net?): " + used.substr(0, used.find('\n')));
  }
  run_host_tool({"ip", "tuntap", "add", "dev", name_, "mode", "tap"});
  try {
    run_host_tool({"ip", "addr", "add", host_cidr, "dev", name_});
    run_host_tool({"ip", "link", "set", "dev", name_, "up"});
  } catch (...) {
    (void)run_host_tool({"ip", "link", "del", "dev", name_});
    throw;
  }
}

BenchTap::~BenchTap() {
  try {
    (void)run_host_tool({"ip", "link", "del", "dev", name_});
  } catch (const Error&) {
    // Nothing to report it to: the next benchmark's check names the leftover network.
  }
}

Iperf3Server::Iperf3Server(const std::string& address, const std::filesystem::path& log)
    : process_(MeasuredProcess::spawn({"iperf3", "-s", "-B", address, "--logfile", log.string()},
                                      "", false)) {}

std::optional<std::string> Iperf3Server::gone() {
  process_.service(Clock::now());
  if (!process_.exited()) return std::nullopt;
  return "the host's iperf3 server stopped (" + describe_wait_status(process_.wait_status()) + ")" +
         (process_.output_tail().empty() ? "" : ": " + process_.output_tail());
}

}  // namespace vmm::bench
