#pragma once
// The host end of `vmm bench net`: a TAP device with an address, made with iproute2 for the
// benchmark's lifetime and deleted with it, and an iperf3 server listening on that address.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench/measured_process.hpp"

namespace vmm::bench {

class BenchTap {
 public:
  // Creates TAP `name` with `host_cidr` (e.g. "192.168.210.1/24") and brings it up. Throws
  // vmm::HostResourceError when it cannot, or when an interface of this host already has an
  // address in that network (two benchmarks at once would route each other's traffic).
  BenchTap(std::string name, const std::string& host_cidr);
  BenchTap(const BenchTap&) = delete;
  BenchTap& operator=(const BenchTap&) = delete;
  ~BenchTap();

  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Runs a host tool to its end (at most 30 s); throws vmm::HostResourceError with its last words
// when it fails. Returns its output.
std::string run_host_tool(const std::vector<std::string>& argv);

// `iperf3 -s -B ADDRESS`, stopped with the object. Its reports go to `log`, not to a pipe
// nobody reads while a guest runs.
class Iperf3Server {
 public:
  Iperf3Server(const std::string& address, const std::filesystem::path& log);
  // Why the server is no longer there (it exited), or nullopt while it serves.
  [[nodiscard]] std::optional<std::string> gone();

 private:
  MeasuredProcess process_;
};

}  // namespace vmm::bench
