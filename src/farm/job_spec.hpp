#pragma once
// One job of a farm file: what `vmm farm run` starts as a child `vmm run` or
// `vmm container run`, and what its result must be to pass. Plain data; farm_file.hpp reads it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmm::farm {

enum class JobKind { kVm, kContainer };

[[nodiscard]] constexpr const char* to_string(JobKind kind) noexcept {
  return kind == JobKind::kVm ? "vm" : "container";
}

struct JobSpec {
  std::string name;
  JobKind kind = JobKind::kVm;
  // VMs.
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  std::vector<std::string> disks;   // `vmm run --disk` specs, passed as they are
  std::vector<std::string> shares;  // `vmm run --share` specs, passed as they are
  // Containers.
  std::string rootfs;
  std::vector<std::string> command;  // argv; a string in the file becomes /bin/sh -c STRING
  // Both. Unset: the child's own default (1 vCPU and 512 MiB for a VM, no limit for a container).
  std::optional<unsigned> cpus;
  std::optional<std::string> memory;  // as written ("256M"), handed to the child
  std::optional<uint64_t> memory_bytes;
  std::optional<double> timeout_seconds;  // unset: the run's --timeout
  int expect_exit = 0;  // the exit status of the equivalent `vmm run` / `vmm container run`
  bool ktap = false;    // the console carries KTAP/TAP whose subtests must pass
};

}  // namespace vmm::farm
