#include "farm/capacity.hpp"

#include <unistd.h>

#include <climits>
#include <fstream>
#include <string>

namespace vmm::farm {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kVmDefaultMemory = 512 * kMiB;  // vmm run --memory's default
constexpr uint64_t kVmmOverhead = 64 * kMiB;       // the VMM process beside guest RAM
constexpr uint64_t kContainerDefaultMemory = 64 * kMiB;

uint64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return UINT64_MAX;  // unknown: memory does not limit the farm
}

}  // namespace

Demand demand_of(const JobSpec& spec) noexcept {
  Demand d;
  d.cpus = spec.cpus.value_or(1);
  if (spec.kind == JobKind::kVm) {
    d.memory_bytes = spec.memory_bytes.value_or(kVmDefaultMemory) + kVmmOverhead;
  } else {
    d.memory_bytes = spec.memory_bytes.value_or(kContainerDefaultMemory);
  }
  return d;
}

Capacity host_capacity(unsigned jobs) {
  Capacity c;
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  c.cpus = online > 0 ? static_cast<unsigned>(online) : 1;
  c.memory_bytes = mem_available();
  c.max_jobs = jobs > 0 ? jobs : c.cpus;
  if (jobs > 0) c.cpus = UINT_MAX;
  return c;
}

bool Usage::fits(const Demand& d) const noexcept {
  if (running_ == 0) return true;
  if (running_ >= capacity_.max_jobs) return false;
  if (cpus_ > capacity_.cpus || d.cpus > capacity_.cpus - cpus_) return false;
  return memory_ <= capacity_.memory_bytes && d.memory_bytes <= capacity_.memory_bytes - memory_;
}

void Usage::add(const Demand& d) noexcept {
  ++running_;
  cpus_ += d.cpus;
  memory_ += d.memory_bytes;
}

void Usage::remove(const Demand& d) noexcept {
  --running_;
  cpus_ -= d.cpus;
  memory_ -= d.memory_bytes;
}

}  // namespace vmm::farm
