#pragma once
// Exits of one vCPU by kind and by (kind, port or address): what a boot or a workload costs in
// round trips to the VMM. Written only by the vCPU's own thread on every exit, read by any
// thread (relaxed atomics): no lock and no allocation on the hot path, and a fixed 2 KiB.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "vmm/kvm/vcpu_exit.hpp"

namespace vmm {

struct ExitCount {
  std::string kind;  // "pio-in", "pio-out", "mmio-read", "mmio-write", "hlt", ...
  uint64_t address = 0;
  uint64_t count = 0;
};

struct ExitSummary {
  uint64_t total = 0;
  std::vector<ExitCount> by_kind;     // address 0
  std::vector<ExitCount> by_address;  // I/O and MMIO exits, most frequent first
  uint64_t untracked = 0;             // I/O and MMIO exits at addresses beyond the table
};

[[nodiscard]] const char* exit_kind_name(kvm::VcpuExit::Kind kind) noexcept;

class ExitStats final {
 public:
  // The vCPU thread only.
  void count(kvm::VcpuExit::Kind kind, uint64_t address) noexcept;
  // Adds this vCPU's counts to `summary` (merging equal kinds and addresses); any thread.
  void add_to(ExitSummary& summary) const;

 private:
  static constexpr std::size_t kKinds = static_cast<std::size_t>(kvm::VcpuExit::Kind::kUnknown) + 1;
  // Distinct (kind, address) pairs kept: a boot touches a few dozen.
  static constexpr std::size_t kSlots = 96;
  struct Slot {
    std::atomic<uint64_t> key{0};  // kind << 56 | address, plus one; 0 is free
    std::atomic<uint64_t> count{0};
  };
  std::array<std::atomic<uint64_t>, kKinds> per_kind_{};
  std::array<Slot, kSlots> slots_{};
  std::atomic<uint64_t> untracked_{0};
};

// Sorts the by-address list, most frequent first, and keeps the first `top`.
void finish_summary(ExitSummary& summary, std::size_t top);

}  // namespace vmm
